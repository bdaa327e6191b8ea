-- Keyrings from psql: creation, membership, the actor, passphrase keyrings.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
\set VERBOSITY terse
CREATE ROLE regress_platform LOGIN;
GRANT han_crypto_app TO regress_platform;

SELECT han_crypto.create_keyring('regress_team') IS NOT NULL AS created;
SELECT han_crypto.create_keyring('regress_team');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.create_keyring('regress_x', 'galaxy');
\echo :LAST_ERROR_SQLSTATE
SELECT name, kind, active_version, kdf, active_state, members FROM han_crypto.keyring_info WHERE name = 'regress_team';

SELECT han_crypto.grant_access('regress_team', 'alice', 'writer');
SELECT han_crypto.grant_access('regress_team', 'alice', 'owner');
\echo :LAST_ERROR_SQLSTATE
SELECT keyring, principal, role FROM han_crypto.keyring_members WHERE keyring = 'regress_team' ORDER BY principal;

SET ROLE regress_platform;
BEGIN;
SELECT han_crypto.set_actor('alice');
SELECT han_crypto.current_actor();
SELECT han_crypto.decrypt(han_crypto.encrypt('alice wrote this', 'regress_team'));
COMMIT;
BEGIN;
SELECT han_crypto.set_actor('mallory');
SELECT han_crypto.encrypt('x', 'regress_team');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT han_crypto.current_actor();
-- Outside a transaction block the actor would vanish at once: a WARNING says so.
SELECT han_crypto.set_actor('alice');
RESET ROLE;

-- Passphrase keyrings: locked until unlocked; wrong passphrase is false.
SELECT han_crypto.create_passphrase_keyring('regress_notes', 'short');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.create_passphrase_keyring('regress_notes', 'a long enough passphrase') IS NOT NULL AS created;
SELECT han_crypto.lock('regress_notes');
SELECT han_crypto.encrypt('note', 'regress_notes');
\echo :LAST_ERROR_SQLSTATE
SELECT han_crypto.unlock('regress_notes', 'not the passphrase');
SELECT han_crypto.unlock('regress_notes', 'a long enough passphrase');
SELECT han_crypto.decrypt(han_crypto.encrypt('note', 'regress_notes'));
SELECT han_crypto.unlock('regress_team', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT name, kind, failed_unlocks FROM han_crypto.keyring_info WHERE name = 'regress_notes';

-- The PBKDF2-HMAC-SHA256 alternative (600,000 iterations).
SELECT han_crypto.create_passphrase_keyring('regress_fips', 'another long passphrase', 'pbkdf2-sha256') IS NOT NULL AS created;
SELECT han_crypto.lock();
SELECT han_crypto.unlock('regress_fips', 'another long passphrase');
SELECT han_crypto.decrypt(han_crypto.encrypt('fips note', 'regress_fips'));
SELECT kdf FROM han_crypto.keyring_info WHERE name = 'regress_fips';
SELECT han_crypto.create_passphrase_keyring('regress_scrypt', 'another long passphrase', 'scrypt');
\echo :LAST_ERROR_SQLSTATE

DROP ROLE regress_platform;
