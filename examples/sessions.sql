-- The platform's session store: AI coding sessions owned by a team or by a
-- single user. The application connects as one role (platform), names the
-- acting user per transaction, and writes plain SQL; han_crypto seals the
-- sensitive columns before they are stored and decrypts them, for members
-- only, through sessions_decrypted.
\set ON_ERROR_STOP on

-- Keyrings: one per team, one per user who owns personal sessions.
SELECT han_crypto.create_keyring('team_initech'), han_crypto.create_keyring('team_umbrella'),
       han_crypto.create_keyring('user_dana', 'user');
SELECT han_crypto.grant_access('team_initech', 'dana', 'writer'),
       han_crypto.grant_access('team_umbrella', 'dana', 'writer'),    -- dana is in two teams
       han_crypto.grant_access('team_initech', 'eli', 'reader'),
       han_crypto.grant_access('user_dana', 'dana', 'admin');

CREATE TABLE sessions (
    id          bigserial   PRIMARY KEY,
    owner       text        NOT NULL,           -- keyring: a team's or a user's
    started_at  timestamptz NOT NULL DEFAULT now(),
    prompt      text,
    tool_output text,
    summary     text,
    metadata    jsonb,
    messages    jsonb
);
SELECT han_crypto.protect('sessions', ARRAY['prompt', 'tool_output', 'summary', 'metadata', 'messages'], 'owner');

DO $$ BEGIN CREATE ROLE platform LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT han_crypto_app TO platform;
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, sessions_decrypted TO platform;
GRANT USAGE ON SEQUENCE sessions_id_seq TO platform;

SET ROLE platform;
BEGIN;
SELECT han_crypto.set_actor('dana');
INSERT INTO sessions (owner, prompt, tool_output, metadata, messages) VALUES
  ('team_initech', 'why does the deploy fail? I ran PGPASSWORD=Tr0ub4dor psql -h db',
   E'$ env\nAWS_ACCESS_KEY_ID=AKIAZ7Q4XPLM3VN2B6RT\nError: connection refused',
   '{"model": "m1", "tokens": 912, "env": {"DB_PASSWORD": "hunter2isgreat"}}',
   '[{"role": "user", "text": "why does the deploy fail?"}]'),
  ('team_umbrella', 'write a migration', 'CREATE TABLE ...', '{"model": "m1"}', '[]'),
  ('user_dana', 'draft my review', NULL, '{}', '[]');
COMMIT;

BEGIN;
SELECT han_crypto.set_actor('eli');      -- a reader of team_initech only
SELECT id, owner, prompt, metadata->>'model' AS model FROM sessions_decrypted ORDER BY id;
-- Secrets in prompts and tool output were replaced before encryption:
SELECT tool_output, metadata->'env' AS env FROM sessions_decrypted WHERE owner = 'team_initech';
COMMIT;
RESET ROLE;
