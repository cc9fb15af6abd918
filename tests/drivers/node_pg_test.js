#!/usr/bin/env node
//
// tests/drivers/node_pg_test.js
//	biotoken through node-postgres (pg from npm), as an application would
//	use it: enroll and verify with bind parameters, identify with a bound
//	probe, and the guard's refusal reaching the error object with its
//	SQLSTATE, DETAIL and HINT.  Prints TAP.  tests/cluster/drivers.sh sets
//	up the server, the roles and the tables, and runs it.
//
// Connection: the usual PG* environment; BT_APP_ROLE and BT_MATCHER_ROLE
// name the roles to connect as.
//
'use strict';

const { Client } = require('pg');

let n = 0;
let failed = 0;

function ok(cond, desc, diag) {
  n += 1;
  if (cond) {
    console.log(`ok ${n} - ${desc}`);
  } else {
    failed += 1;
    console.log(`not ok ${n} - ${desc}`);
    if (diag !== undefined) {
      String(diag).split('\n').forEach((l) => console.log(`# ${l}`));
    }
  }
}

// the same deterministic embedding as psycopg_test.py
function embedding(seed, dims = 128) {
  const out = [];
  for (let i = 1; i <= dims; i++) {
    const x = Math.sin(seed * 12.9898 + i * 78.233) * 43758.5453;
    out.push(x - Math.floor(x) - 0.5);
  }
  return out;
}

async function main() {
  console.log('1..8');
  const app = new Client({ user: process.env.BT_APP_ROLE });
  await app.connect();

  // node-postgres sends a JS array as an untyped '{...}' literal: the SQL
  // says what it is (README: write ::real[])
  try {
    await app.query('INSERT INTO drv.people (id, national_id, face) VALUES ($1, $2, $3::real[])',
      [11, 'ID0011', embedding(11)]);
    await app.query('INSERT INTO drv.people (id, national_id, face) VALUES ($1, $2, biometric_enroll($3::real[]))',
      [12, 'ID0012', embedding(12)]);
    const r = await app.query('SELECT count(*)::int AS c FROM drv.people WHERE id IN (11, 12)');
    ok(r.rows[0].c === 2, 'a JS array enrolls through a bind parameter (::real[])');
  } catch (e) {
    ok(false, 'a JS array enrolls through a bind parameter (::real[])', e.message);
  }

  // an untyped array bound to a biometric column is text input, and a raw
  // embedding is never accepted as text
  try {
    await app.query('INSERT INTO drv.people (id, national_id, face) VALUES ($1, $2, $3)',
      [13, 'ID0013', embedding(13)]);
    ok(false, 'an untyped embedding is refused as template text (22P02)');
  } catch (e) {
    ok(e.code === '22P02', 'an untyped embedding is refused as template text (22P02)', e.code);
  }

  try {
    let r = await app.query('SELECT biometric_verify(face, $1::real[]) AS m FROM drv.people WHERE id = $2',
      [embedding(11), 11]);
    ok(r.rows[0].m === true, 'verify: the same face matches');
    r = await app.query('SELECT biometric_verify(face, $1::real[]) AS m FROM drv.people WHERE id = $2',
      [embedding(12), 11]);
    ok(r.rows[0].m === false, 'verify: another face does not match');
  } catch (e) {
    ok(false, 'verify: the same face matches', e.message);
    ok(false, 'verify: another face does not match', e.message);
  }

  try {
    await app.query('SELECT national_id FROM drv.people WHERE biometric_verify(face, $1::real[])',
      [embedding(11)]);
    ok(false, 'refusal: SQLSTATE 42501', 'the combining statement was not refused');
    ok(false, 'refusal: DETAIL names the columns');
    ok(false, 'refusal: HINT names the fix');
  } catch (e) {
    ok(e.code === '42501', 'refusal: SQLSTATE 42501', e.code);
    const detail = e.detail || '';
    ok(detail.includes('drv.people.national_id (identity)') &&
       detail.includes('drv.people.face (biometric)'), 'refusal: DETAIL names the columns', detail);
    ok(/grant/i.test(e.hint || ''), 'refusal: HINT names the fix', e.hint);
  }
  await app.end();

  const matcher = new Client({ user: process.env.BT_MATCHER_ROLE });
  await matcher.connect();
  try {
    const r = await matcher.query('SELECT id FROM drv.faces ORDER BY face <~> $1::real[] LIMIT 2',
      [embedding(12)]);
    ok(r.rows.length === 2 && r.rows[0].id === 12, 'identify: the bound probe\'s face comes first',
      JSON.stringify(r.rows));
  } catch (e) {
    ok(false, 'identify: the bound probe\'s face comes first', e.message);
  }
  await matcher.end();
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.log(`Bail out! ${e.message}`);
  process.exitCode = 1;
});
