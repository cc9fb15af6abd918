#!/usr/bin/python3
#
# tests/drivers/psycopg_test.py
#	biotoken through psycopg 3 (Debian's python3-psycopg), as an
#	application would use it: enroll and verify with bind parameters
#	(server-side binding), identify with a bound probe, binary COPY of
#	templates, and the guard's refusal reaching the exception object with
#	its SQLSTATE, DETAIL and HINT.  Prints TAP.  tests/cluster/drivers.sh
#	sets up the server, the roles and the table, and runs it.
#
# Connection: the usual PG* environment; BT_APP_ROLE and BT_MATCHER_ROLE
# name the roles to connect as.
#
import math
import os
import sys

import psycopg
from psycopg import errors

N = 0
FAILED = 0


def ok(cond, desc, diag=None):
    global N, FAILED
    N += 1
    if cond:
        print(f"ok {N} - {desc}")
    else:
        FAILED += 1
        print(f"not ok {N} - {desc}")
        if diag:
            for line in str(diag).splitlines():
                print(f"# {line}")
    sys.stdout.flush()


def embedding(seed, dims=128):
    """A deterministic pseudo-random embedding as a Python list of floats."""
    out = []
    for i in range(1, dims + 1):
        x = math.sin(seed * 12.9898 + i * 78.233) * 43758.5453
        out.append(x - math.floor(x) - 0.5)
    return out


def connect(role):
    return psycopg.connect(user=role, autocommit=True)


print("1..14")
app = connect(os.environ["BT_APP_ROLE"])
cur = app.cursor()

# 1-2: a list of Python floats is sent as double precision[]; the
# assignment cast enrolls it
try:
    for pid in (1, 2, 3):
        cur.execute("INSERT INTO drv.people (id, national_id, face) VALUES (%s, %s, %s)",
                    (pid, f"ID{pid:04d}", embedding(pid)))
    cur.execute("SELECT count(*), min((biometric_info(face)).dims) FROM drv.people")
    ok(cur.fetchone() == (3, 128), "a list of floats (float8[]) enrolls through a bind parameter")
except psycopg.Error as e:
    ok(False, "a list of floats (float8[]) enrolls through a bind parameter", e)

try:
    cur.execute("INSERT INTO drv.people (id, national_id, face) VALUES (%s, %s, biometric_enroll(%s::real[]))",
                (4, "ID0004", embedding(4)))
    ok(cur.rowcount == 1, "biometric_enroll(%s::real[]) enrolls a bound list")
except psycopg.Error as e:
    ok(False, "biometric_enroll(%s::real[]) enrolls a bound list", e)

# 3-5: verify with a bound probe (the README's form, with ::real[])
try:
    cur.execute("SELECT biometric_verify(face, %s::real[]) FROM drv.people WHERE id = %s",
                (embedding(2), 2))
    ok(cur.fetchone()[0] is True, "verify: the same face matches")
    cur.execute("SELECT biometric_verify(face, %s::real[]) FROM drv.people WHERE id = %s",
                (embedding(3), 2))
    ok(cur.fetchone()[0] is False, "verify: another face does not match")
except psycopg.Error as e:
    ok(False, "verify: the same face matches", e)
    ok(False, "verify: another face does not match", e)

# without the cast a float8[] probe finds no function (documented in README)
try:
    cur.execute("SELECT biometric_verify(face, %s) FROM drv.people WHERE id = %s",
                (embedding(2), 2))
    ok(False, "verify without ::real[] fails with 42883 (documented)")
except errors.UndefinedFunction as e:
    ok(e.diag.sqlstate == "42883", "verify without ::real[] fails with 42883 (documented)")

# 6: binary-format parameters work as well
try:
    cur.execute("SELECT biometric_verify(face, %b::real[]) FROM drv.people WHERE id = %b",
                (embedding(1), 1))
    ok(cur.fetchone()[0] is True, "verify with binary-format parameters")
except psycopg.Error as e:
    ok(False, "verify with binary-format parameters", e)

# 7: the application role may not score
try:
    cur.execute("SELECT id FROM drv.people ORDER BY face <~> %s::real[] LIMIT 1", (embedding(1),))
    ok(False, "identification needs biotoken_matcher")
except errors.InsufficientPrivilege as e:
    ok(e.diag.sqlstate == "42501", "identification needs biotoken_matcher")

# 8-9: binary COPY of templates, out and back in, byte for byte
try:
    data = bytearray()
    with cur.copy("COPY (SELECT id, face FROM drv.people ORDER BY id) TO STDOUT (FORMAT binary)") as cp:
        for chunk in cp:
            data += chunk
    ok(len(data) > 4 * 58, "binary COPY TO STDOUT of templates")
    with cur.copy("COPY drv.copies (id, face) FROM STDIN (FORMAT binary)") as cp:
        cp.write(bytes(data))
    cur.execute("SELECT count(*) FROM drv.people p JOIN drv.copies c USING (id)"
                " WHERE p.face::text = c.face::text")
    ok(cur.fetchone()[0] == 4, "binary COPY FROM STDIN restores the same templates")
except psycopg.Error as e:
    ok(False, "binary COPY TO STDOUT of templates", e)
    ok(False, "binary COPY FROM STDIN restores the same templates", e)

# 10-13: the guard's refusal reaches the driver with everything an
# application needs to tell it apart, without parsing the message
try:
    cur.execute("SELECT national_id FROM drv.people WHERE biometric_verify(face, %s::real[])",
                (embedding(1),))
    cur.fetchall()
    for d in ("refusal: InsufficientPrivilege", "refusal: SQLSTATE 42501",
              "refusal: DETAIL names the columns", "refusal: HINT names the fix"):
        ok(False, d, "the combining statement was not refused")
except errors.InsufficientPrivilege as e:
    ok(True, "refusal: InsufficientPrivilege")
    ok(e.diag.sqlstate == "42501", "refusal: SQLSTATE 42501", e.diag.sqlstate)
    detail = e.diag.message_detail or ""
    ok("drv.people.national_id (identity)" in detail and "drv.people.face (biometric)" in detail,
       "refusal: DETAIL names the columns", detail)
    hint = e.diag.message_hint or ""
    ok("grant" in hint.lower(), "refusal: HINT names the fix", hint)

# 14: identification as the matcher, with a bound probe
matcher = connect(os.environ["BT_MATCHER_ROLE"])
try:
    mc = matcher.cursor()
    mc.execute("SELECT id FROM drv.faces ORDER BY face <~> %s::real[] LIMIT 2", (embedding(3),))
    ids = [r[0] for r in mc.fetchall()]
    ok(len(ids) == 2 and ids[0] == 3, "identify: the bound probe's face comes first", ids)
except psycopg.Error as e:
    ok(False, "identify: the bound probe's face comes first", e)

app.close()
matcher.close()
sys.exit(1 if FAILED else 0)
