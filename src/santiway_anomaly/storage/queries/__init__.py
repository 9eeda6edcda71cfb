"""Named queries with typed results, grouped by what they read. SQL lives here (DESIGN.md)."""
