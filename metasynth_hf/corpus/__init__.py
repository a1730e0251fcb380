"""The corpus: what a document is on disk, and reading and writing it.

- `records.py`: the record schema (one flat schema for every method) and instance entries
- `store.py`: the engine's shard files (append, group fsync, torn-line rule), the writer lock,
  the fingerprint guard of an output dir
- `shards.py`: reading, merging (with a completeness check) and exporting shards to parquet
- `files.py`: corpus files by suffix (parquet, jsonl, csv, text) for the stages that read them
"""
