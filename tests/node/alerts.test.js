// Access monitoring through node-postgres, as docs/ALERTS.md shows it: an
// operator's client LISTENs on han_crypto_alerts while the platform's
// connection probes envelopes inside a transaction it rolls back; the
// alert arrives within a second, with no plaintext in it.
// Needs PGHOST/PGPORT of a cluster with han_crypto installed (run-tests.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';

const db = `node_alerts_${process.pid}`;
const sentinel = 'node-sentinel-plaintext-41c7';
const admin = new pg.Client({ database: 'postgres', user: 'postgres' });

before(async () => {
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  const setup = new pg.Client({ database: db, user: 'postgres' });
  await setup.connect();
  await setup.query(`
    CREATE EXTENSION han_crypto CASCADE;
    UPDATE han_crypto.alert_rules SET enabled = (name = 'failed_decrypts_per_actor'), threshold = 3;`);
  await setup.end();
});

after(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.end();
});

test('a rolled-back probe of tampered envelopes reaches a LISTENing client within a second', async () => {
  const listener = new pg.Client({ database: db, user: 'postgres' });
  const probe = new pg.Client({ database: db, user: 'postgres' });
  await listener.connect();
  await probe.connect();
  try {
    await listener.query('LISTEN han_crypto_alerts');
    const { rows } = await probe.query('SELECT han_crypto.encrypt($1) AS env', [sentinel]);
    const bad = Buffer.from(rows[0].env);
    bad[bad.length - 1] ^= 1;
    const arrived = new Promise((resolve) => listener.on('notification', resolve));
    await probe.query('BEGIN');
    let sent;
    for (let i = 0; i < 3; i++) {
      await probe.query('SAVEPOINT s');
      sent = Date.now();
      await assert.rejects(probe.query('SELECT han_crypto.decrypt($1)', [bad]), { code: 'XX001' });
      await probe.query('ROLLBACK TO SAVEPOINT s');
    }
    const msg = await Promise.race([
      arrived,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no alert within 1 s')), 1000)),
    ]);
    assert.ok(Date.now() - sent < 1000);
    await probe.query('ROLLBACK');
    assert.equal(msg.channel, 'han_crypto_alerts');
    const alert = JSON.parse(msg.payload);
    assert.equal(alert.rule, 'failed_decrypts_per_actor');
    assert.equal(alert.count, 3);
    assert.ok(!msg.payload.includes(sentinel));
  } finally {
    await listener.end();
    await probe.end();
  }
});
