"""Real catalogs from registry packages and a seeded live-stream simulator that turns them into datasets."""
