"""Data: the prepared-data store, downloads, split files, the IDX and point-cloud formats,
unsigned distance functions, and the one adapter from a split to an INR field."""
