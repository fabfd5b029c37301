"""Patient-owned, versioned records: the rules diary entries, courses and sessions share
(client ids, versions, preconditions, merge patch, tombstones, change positions,
idempotent POSTs)."""
