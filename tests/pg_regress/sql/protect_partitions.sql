-- A partitioned table: the trigger fires on the partition a row lands in,
-- whose values are bound to the partitioned table (its binding), so rows
-- keep decrypting when they move between partitions, and partitions
-- attached with another column order, or created later, are protected too.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set SHOW_CONTEXT never
SELECT han_crypto.create_keyring('regress_part_team') IS NOT NULL AS created;
SELECT han_crypto.grant_access('regress_part_team', current_user, 'writer');

CREATE TABLE regress_parted (id int, team text NOT NULL, body text, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE regress_parted_1 PARTITION OF regress_parted FOR VALUES FROM (0) TO (100);
-- Another column order and a dropped column: attribute numbers differ.
CREATE TABLE regress_parted_2 (body text, team text NOT NULL, id int NOT NULL, extra int);
ALTER TABLE regress_parted_2 DROP COLUMN extra;
ALTER TABLE regress_parted ATTACH PARTITION regress_parted_2 FOR VALUES FROM (100) TO (200);
SELECT han_crypto.protect('regress_parted', ARRAY['body'], 'team', redact => false);

INSERT INTO regress_parted VALUES (1, 'regress_part_team', 'first'), (150, 'regress_part_team', 'second');
SELECT tableoid::regclass AS partition, id, body LIKE 'hc1:%' AS sealed FROM regress_parted ORDER BY id;
SELECT * FROM regress_parted_decrypted ORDER BY id;

-- Upsert, then a move to the other partition (the key changes: re-bound).
INSERT INTO regress_parted VALUES (1, 'regress_part_team', 'first, again')
    ON CONFLICT (id) DO UPDATE SET body = excluded.body;
UPDATE regress_parted SET id = 101 WHERE id = 1;
UPDATE regress_parted_decrypted SET body = 'moved and changed' WHERE id = 101;

-- A partition created after protect().
CREATE TABLE regress_parted_3 PARTITION OF regress_parted FOR VALUES FROM (200) TO (300);
INSERT INTO regress_parted VALUES (250, 'regress_part_team', 'third');
SELECT tableoid::regclass AS partition, id, body LIKE 'hc1:%' AS sealed FROM regress_parted ORDER BY id;
SELECT * FROM regress_parted_decrypted ORDER BY id;

-- One row per batch: batches are keyed by (tableoid, ctid), as ctids repeat across partitions.
CALL han_crypto.unprotect('regress_parted', batch_size => 1);
SELECT * FROM regress_parted ORDER BY id;
DROP TABLE regress_parted;
