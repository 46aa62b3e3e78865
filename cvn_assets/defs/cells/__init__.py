"""Cell assets: one crypto × fold × configuration each, computed together in one step over a range of cells."""
