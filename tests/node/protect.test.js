// han_crypto through node-postgres: the platform inserts with bind
// parameters as one database role, names the acting user per transaction,
// and reads through the decrypting view — several connections at once.
// Needs PGHOST/PGPORT of a cluster with han_crypto installed (run-tests.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';

const db = `node_${process.pid}`;
const admin = new pg.Client({ database: 'postgres', user: 'postgres' });
let pool;

async function asActor(client, actor, fn) {
  await client.query('BEGIN');
  try {
    await client.query('SELECT han_crypto.set_actor($1)', [actor]);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK');
    throw e;
  }
}

before(async () => {
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  const setup = new pg.Client({ database: db, user: 'postgres' });
  await setup.connect();
  await setup.query(`
    CREATE EXTENSION han_crypto CASCADE;
    DO $$ BEGIN CREATE ROLE node_platform LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
    GRANT han_crypto_app TO node_platform;
    SELECT han_crypto.create_keyring('team_red'), han_crypto.create_keyring('team_blue');
    SELECT han_crypto.grant_access('team_red', 'user-1', 'writer'), han_crypto.grant_access('team_blue', 'user-2', 'writer');
    CREATE TABLE sessions (id bigserial PRIMARY KEY, team text NOT NULL, prompt text, metadata jsonb);
    SELECT han_crypto.protect('sessions', ARRAY['prompt', 'metadata'], 'team');
    GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, sessions_decrypted TO node_platform;
    GRANT USAGE ON SEQUENCE sessions_id_seq TO node_platform;`);
  await setup.end();
  pool = new pg.Pool({ database: db, user: 'node_platform', max: 4 });
  // node-postgres reports an idle client's lost connection on the pool; the
  // DROP DATABASE … WITH (FORCE) at the end may end one still closing.
  pool.on('error', (e) => {
    if (e.code !== '57P01') throw e;
  });
});

after(async () => {
  await pool?.end();
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.end();
});

test('inserts with bind parameters are sealed and read back by members', async () => {
  const c = await pool.connect();
  try {
    const prompt = 'deploy with AWS key? — ünïcödé';
    const meta = { model: 'm', cost: 0.000000000001, tags: ['a'] };
    const id = await asActor(c, 'user-1', async (cl) => {
      const r = await cl.query('INSERT INTO sessions (team, prompt, metadata) VALUES ($1, $2, $3) RETURNING id', ['team_red', prompt, meta]);
      return r.rows[0].id;
    });
    const raw = await c.query('SELECT prompt, metadata FROM sessions WHERE id = $1', [id]);
    assert.match(raw.rows[0].prompt, /^hc1:/);
    assert.ok('han_crypto' in raw.rows[0].metadata);
    const mine = await asActor(c, 'user-1', (cl) => cl.query('SELECT prompt, metadata FROM sessions_decrypted WHERE id = $1', [id]));
    assert.equal(mine.rows[0].prompt, prompt);
    assert.deepEqual(mine.rows[0].metadata, meta);
    const theirs = await asActor(c, 'user-2', (cl) => cl.query('SELECT prompt FROM sessions_decrypted WHERE id = $1', [id]));
    assert.equal(theirs.rows[0].prompt, null, 'a non-member sees NULL');
  } finally {
    c.release();
  }
});

test('concurrent writers on a pool never share an actor', async () => {
  const writes = Array.from({ length: 40 }, (_, i) => (async () => {
    const c = await pool.connect();
    try {
      const [actor, team] = i % 2 ? ['user-1', 'team_red'] : ['user-2', 'team_blue'];
      await asActor(c, actor, (cl) => cl.query('INSERT INTO sessions (team, prompt) VALUES ($1, $2)', [team, `note ${i}`]));
      const who = await c.query('SELECT han_crypto.current_actor() AS a');
      assert.equal(who.rows[0].a, 'node_platform', 'the actor ended with its transaction');
    } finally {
      c.release();
    }
  })());
  await Promise.all(writes);
  const c = await pool.connect();
  try {
    const red = await asActor(c, 'user-1', (cl) => cl.query("SELECT count(prompt) AS n FROM sessions_decrypted WHERE prompt LIKE 'note %'"));
    assert.equal(Number(red.rows[0].n), 20);
  } finally {
    c.release();
  }
});

test('writing to a team the actor is not in fails with insufficient_privilege', async () => {
  const c = await pool.connect();
  try {
    await assert.rejects(
      asActor(c, 'user-2', (cl) => cl.query('INSERT INTO sessions (team, prompt) VALUES ($1, $2)', ['team_red', 'x'])),
      (e) => e.code === '42501',
    );
  } finally {
    c.release();
  }
});
