"""The gate verdict, the results dossier and the promotion of a LOCK."""
