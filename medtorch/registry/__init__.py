"""The project's test-set registry: every governed look at a test set, in a real database.

SQLite at a fixed per-user location by default (``location``), PostgreSQL by URL; one
hash-chained table of entries (``store``); the identity of every looked-at row (``identity``);
the role a test set has for a new look (``roles``); the move of an old JSONL ledger into it
(``importer``).
"""
