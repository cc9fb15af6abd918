#!/usr/bin/env python3
#
# tests/bench/accuracy.py
#   The work of tests/bench/accuracy: generate a synthetic face-embedding
#   population, enroll and match it through biotoken's SQL functions, and
#   print the equal error rates.
#
# Run it through tests/bench/accuracy, which installs numpy if needed and
# starts the throwaway server this script connects to.  Standalone use
# (against a server of your own, biotoken preloaded, a superuser):
#
#   python3 tests/bench/accuracy.py --psql /usr/lib/postgresql/15/bin/psql \
#       --host /tmp/bench-sock --port 55505 --user postgres --db postgres
#
# It creates and drops tables named bt_acc_* in that database and
# registers model profiles named bt_acc_<dims>_<hash of the mean> (profiles
# are append-only, so a second run against the same database reuses them).
#
# The population (all sizes and the seed are options):
#
#   mean      m: a random unit vector, shared by every face
#   identity  u_i ~ N(0, I/dims), |u_i| ~ 1
#   capture   x = normalize(m + s * (rho * u_i + sqrt(1 - rho^2) * e)),
#             e ~ N(0, I/dims) fresh per capture, rho^2 ~ Beta(a, b) per
#             capture (its quality: how much of the deviation from the
#             mean is the identity rather than noise)
#
# With s^2 = 0.25 an impostor pair has raw cosine ~0.8 (the common
# component of dlib-style embeddings); after subtracting the population
# mean, impostors have cosine ~0 and genuine pairs ~E[rho]^2 (~0.64 with
# Beta(2, 1)), with a tail of poor captures that gives the EER.  The script
# prints the measured cosines, so the calibration can be checked.
#
# Pairs: genuine = every pair of captures of one identity; impostor =
# random pairs of captures of different identities.  For each pair the
# first capture is enrolled (biometric_enroll) and the second is the probe
# (biometric_distance).  EERs come with a 95% bootstrap interval that
# resamples identities, and the difference to the raw cosine is paired.

import argparse
import hashlib
import math
import subprocess
import sys
import time

import numpy as np


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Psql:
    """Run SQL through psql (no driver needed)."""

    def __init__(self, args):
        self.cmd = [args.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                    "-h", args.host, "-p", str(args.port), "-U", args.user,
                    "-d", args.db]

    def run(self, sql, stdin_data=None):
        """Run sql (a script) in one session and return its output; with
        stdin_data, sql is one statement (COPY ... FROM STDIN) fed that."""
        if stdin_data is None:
            cmd, data = self.cmd + ["-f", "-"], sql
        else:
            cmd, data = self.cmd + ["-c", sql], stdin_data
        p = subprocess.run(cmd, input=data, capture_output=True, text=True)
        if p.returncode != 0:
            log(p.stderr)
            raise SystemExit("psql failed (exit %d)" % p.returncode)
        return p.stdout


# ---------------------------------------------------------------------
# population
# ---------------------------------------------------------------------

def generate(rng, dims, n_ident, n_capt, spread2, qa, qb):
    m = rng.standard_normal(dims)
    m /= np.linalg.norm(m)
    u = rng.standard_normal((n_ident, dims)) / math.sqrt(dims)
    r = rng.beta(qa, qb, (n_ident, n_capt))
    e = rng.standard_normal((n_ident, n_capt, dims)) / math.sqrt(dims)
    x = m + math.sqrt(spread2) * (np.sqrt(r)[..., None] * u[:, None, :]
                                  + np.sqrt(1.0 - r)[..., None] * e)
    x /= np.linalg.norm(x, axis=2, keepdims=True)
    x = x.reshape(n_ident * n_capt, dims).astype(np.float32)
    ident = np.repeat(np.arange(n_ident), n_capt)
    return x, ident


def make_pairs(rng, ident, n_capt, n_impostor):
    n_ident = ident.max() + 1
    gen = []
    for i in range(n_capt):
        for j in range(i + 1, n_capt):
            base = np.arange(n_ident) * n_capt
            gen.append(np.stack([base + i, base + j], axis=1))
    gen = np.concatenate(gen)

    n = len(ident)
    imp = np.empty((0, 2), dtype=np.int64)
    while len(imp) < n_impostor:
        a = rng.integers(0, n, 2 * n_impostor)
        b = rng.integers(0, n, 2 * n_impostor)
        ok = ident[a] != ident[b]
        cand = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)[ok]
        imp = np.unique(np.concatenate([imp, cand]), axis=0)
    imp = imp[rng.permutation(len(imp))[:n_impostor]]
    return gen, imp


def angle_dist(c):
    """Cosine -> angle / pi, the quantity a template distance estimates."""
    return np.arccos(np.clip(c, -1.0, 1.0)) / math.pi


def srp_distances(rng, x, pairs, bits, orthogonal):
    """Sign random projection of the same embeddings in numpy, with no key
    and no mask: i.i.d. Gaussian rows (textbook SimHash), or blocks of dims
    orthonormal rows (random rotations, which a structured keyed rotation
    imitates).  Tells quantization loss, which more bits cure, from a
    defect of the implementation."""
    dims = x.shape[1]
    if orthogonal:
        blocks = []
        for _ in range(0, bits, dims):
            q, r = np.linalg.qr(rng.standard_normal((dims, dims)))
            blocks.append(q * np.sign(np.diag(r)))
        g = np.concatenate(blocks, axis=1)[:, :bits].astype(np.float32)
    else:
        g = rng.standard_normal((dims, bits)).astype(np.float32)
    s = np.where(x.astype(np.float32) @ g > 0, 1.0, -1.0).astype(np.float32)
    out = np.empty(len(pairs))
    for lo in range(0, len(pairs), 4096):
        p = pairs[lo:lo + 4096]
        out[lo:lo + 4096] = np.einsum("ij,ij->i", s[p[:, 0]], s[p[:, 1]])
    return (bits - out) / (2.0 * bits)


def cosines(x, pairs):
    xn = x.astype(np.float64)
    xn = xn / np.linalg.norm(xn, axis=1, keepdims=True)
    return np.einsum("ij,ij->i", xn[pairs[:, 0]], xn[pairs[:, 1]])


# ---------------------------------------------------------------------
# error rates (lower distance = more similar; accept if d <= threshold)
# ---------------------------------------------------------------------

class Scores:
    """Distances of genuine and impostor pairs, sorted once so that any
    weighting (the bootstrap) costs one pass."""

    def __init__(self, dgen, dimp, gen_ident, imp_ident):
        d = np.concatenate([dgen, dimp])
        self.is_gen = np.concatenate([np.ones(len(dgen), bool), np.zeros(len(dimp), bool)])
        order = np.argsort(d, kind="stable")
        self.d = d[order]
        self.is_gen = self.is_gen[order]
        # pair -> identities, for identity-level resampling
        ia = np.concatenate([gen_ident, imp_ident[:, 0]])[order]
        ib = np.concatenate([gen_ident, imp_ident[:, 1]])[order]
        self.ia, self.ib = ia, ib
        # last index of each run of equal distances
        self.last = np.flatnonzero(np.r_[self.d[1:] != self.d[:-1], True])
        self.dgen, self.dimp = dgen, dimp

    def weights(self, w_ident):
        if w_ident is None:
            return np.ones(len(self.d))
        return np.where(self.is_gen, w_ident[self.ia], w_ident[self.ia] * w_ident[self.ib])

    def curves(self, w_ident=None):
        w = self.weights(w_ident)
        wg = np.where(self.is_gen, w, 0.0)
        wi = np.where(self.is_gen, 0.0, w)
        cg = np.cumsum(wg)[self.last]
        ci = np.cumsum(wi)[self.last]
        fmr = ci / ci[-1]               # P(impostor d <= v)
        fnmr = 1.0 - cg / cg[-1]        # P(genuine d > v)
        return self.d[self.last], fmr, fnmr

    def eer(self, w_ident=None):
        """EER and its threshold: the crossing of FMR and FNMR, linearly
        interpolated between the two thresholds around it (the ROC
        segment between them, as a randomized threshold would give)."""
        v, fmr, fnmr = self.curves(w_ident)
        v = np.r_[v[0] - 1e-9, v]
        fmr = np.r_[0.0, fmr]
        fnmr = np.r_[1.0, fnmr]
        k = int(np.argmax(fmr >= fnmr))
        df = fmr[k] - fmr[k - 1]
        dn = fnmr[k] - fnmr[k - 1]
        lam = (fnmr[k - 1] - fmr[k - 1]) / (df - dn) if df != dn else 0.0
        return fmr[k - 1] + lam * df, v[k - 1] + lam * (v[k] - v[k - 1])

    def at_fmr(self, target):
        """Largest threshold with FMR <= target, and the FNMR there."""
        v, fmr, fnmr = self.curves()
        ok = np.flatnonzero(fmr <= target)
        if len(ok) == 0:
            return float("nan"), 1.0
        k = ok[-1]
        return v[k], fnmr[k]

    def rates_at(self, t):
        return (np.mean(self.dimp <= t), np.mean(self.dgen > t))


def bootstrap_weights(rng, n_ident, n_boot):
    return [rng.multinomial(n_ident, np.full(n_ident, 1.0 / n_ident)).astype(float)
            for _ in range(n_boot)]


# ---------------------------------------------------------------------
# main
# ---------------------------------------------------------------------

def main():
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser(
        description="biotoken accuracy benchmark (run it through tests/bench/accuracy)")
    ap.add_argument("--psql", default="psql", help="psql program (default: psql)")
    ap.add_argument("--host", required=True, help="server socket directory or host")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="postgres")
    ap.add_argument("--db", default="postgres")
    ap.add_argument("--seed", type=int, default=20240601,
                    help="seed of the population and pairs (default 20240601)")
    ap.add_argument("--dims", default="128,512",
                    help="embedding dimensions, comma-separated (default 128,512)")
    ap.add_argument("--identities", type=int, default=1000,
                    help="identities in the population (default 1000)")
    ap.add_argument("--captures", type=int, default=5,
                    help="captures per identity (default 5: 10 genuine pairs each)")
    ap.add_argument("--impostors", type=int, default=100000,
                    help="impostor pairs (default 100000)")
    ap.add_argument("--multiples", default="1,2,4,8",
                    help="template bits as multiples of dims")
    ap.add_argument("--spread2", type=float, default=0.25,
                    help="squared size of the deviation from the mean")
    ap.add_argument("--quality", default="2,1",
                    help="Beta(a,b) of rho^2, the identity share of a capture")
    ap.add_argument("--boot", type=int, default=200,
                    help="bootstrap resamples for the intervals (default 200)")
    args = ap.parse_args()

    qa, qb = (float(s) for s in args.quality.split(","))
    dims_list = [int(s) for s in args.dims.split(",")]
    multiples = [int(s) for s in args.multiples.split(",")]
    db = Psql(args)
    rng = np.random.default_rng(args.seed)
    boot_rng = np.random.default_rng(args.seed + 1)
    srp_rng = np.random.default_rng(args.seed + 2)
    boot_w = bootstrap_weights(boot_rng, args.identities, args.boot)

    print("biotoken accuracy benchmark")
    print("server: %s" % db.run("SELECT 'PostgreSQL ' || current_setting('server_version') "
                               "|| ', biotoken ' || biotoken.library_version() "
                               "|| ', jit=' || current_setting('jit')").strip())
    print("population: seed %d, %d identities x %d captures, spread^2 %.3g, "
          "capture quality rho^2 ~ Beta(%g, %g)"
          % (args.seed, args.identities, args.captures, args.spread2, qa, qb))

    rows = []
    checks = []
    for dims in dims_list:
        t0 = time.time()
        x, ident = generate(rng, dims, args.identities, args.captures,
                            args.spread2, qa, qb)
        gen, imp = make_pairs(rng, ident, args.captures, args.impostors)
        mean = x.astype(np.float64).mean(axis=0)
        xc = x.astype(np.float64) - mean
        gen_ident = ident[gen[:, 0]]
        imp_ident = np.stack([ident[imp[:, 0]], ident[imp[:, 1]]], axis=1)

        c_gen_raw, c_imp_raw = cosines(x, gen), cosines(x, imp)
        c_gen_cen, c_imp_cen = cosines(xc, gen), cosines(xc, imp)
        print()
        print("dims %d: %d genuine pairs, %d impostor pairs" % (dims, len(gen), len(imp)))
        print("  cosine before centring: genuine %.3f, impostor %.3f (sd %.3f)"
              % (c_gen_raw.mean(), c_imp_raw.mean(), c_imp_raw.std()))
        print("  cosine after centring:  genuine %.3f (5th pct %.3f), impostor %.3f (sd %.3f)"
              % (c_gen_cen.mean(), np.percentile(c_gen_cen, 5), c_imp_cen.mean(), c_imp_cen.std()))

        ref = {
            False: Scores(angle_dist(c_gen_raw), angle_dist(c_imp_raw), gen_ident, imp_ident),
            True: Scores(angle_dist(c_gen_cen), angle_dist(c_imp_cen), gen_ident, imp_ident),
        }

        # load captures and pairs (probe-major order, so the probe cache hits)
        cap = "bt_acc_cap_%d" % dims
        pairs = "bt_acc_pairs_%d" % dims
        buf = "\n".join("%d\t{%s}" % (i, ",".join("%.9g" % f for f in row))
                        for i, row in enumerate(x)) + "\n"
        db.run("DROP TABLE IF EXISTS %s, %s" % (cap, pairs))
        db.run("CREATE TABLE %s (id int PRIMARY KEY, emb float4[] NOT NULL); "
               "CREATE TABLE %s (pair_id int, a int, b int)" % (cap, pairs))
        db.run("COPY %s FROM STDIN" % cap, buf)
        allp = np.concatenate([gen, imp])
        order = np.lexsort((allp[:, 0], allp[:, 1]))
        db.run("COPY %s FROM STDIN" % pairs,
               "".join("%d\t%d\t%d\n" % (k, allp[k, 0], allp[k, 1]) for k in order))
        db.run("ANALYZE %s, %s" % (cap, pairs))

        # the profile: the population mean, as an admin would register it
        pname = "bt_acc_%d_%s" % (dims, hashlib.sha1(mean.astype(np.float32).tobytes()).hexdigest()[:12])
        db.run("SELECT biotoken.register_model('%s', %d, '{%s}'::float4[]) "
               "WHERE NOT EXISTS (SELECT 1 FROM biotoken.model_profiles WHERE name = '%s')"
               % (pname, dims, ",".join("%.9g" % f for f in mean), pname))
        log("dims %d: population generated and loaded in %.1fs" % (dims, time.time() - t0))

        for profile in (False, True):
            s = ref[profile]
            rows.append(dict(dims=dims, bits=None, profile=profile, scores=s))
            for mult in multiples:
                bits = mult * dims
                t0 = time.time()
                out = db.run(
                    "SET biotoken.template_bits = '%d';\n"
                    "SET biotoken.model = '%s';\n"
                    "DROP TABLE IF EXISTS bt_acc_tpl;\n"
                    "CREATE TABLE bt_acc_tpl AS SELECT id, biometric_enroll(emb) AS t FROM %s;\n"
                    "SELECT (i).bits || ' ' || coalesce((i).model, '-') FROM "
                    "(SELECT biometric_info(t) AS i FROM bt_acc_tpl LIMIT 1) s;\n"
                    "SET enable_mergejoin = off; SET enable_nestloop = off;\n"
                    "COPY (SELECT p.pair_id, biometric_distance(t.t, c.emb) FROM %s p "
                    "JOIN bt_acc_tpl t ON t.id = p.a JOIN %s c ON c.id = p.b) TO STDOUT;\n"
                    % (bits, pname if profile else "none", cap, pairs, cap))
                lines = out.split("\n")
                info = lines[0].split()
                want = [str(bits), pname if profile else "-"]
                if info != want:
                    raise SystemExit("template info %s, expected %s" % (info, want))
                dist = np.full(len(allp), np.nan)
                for ln in lines[1:]:
                    if ln:
                        k, v = ln.split("\t")
                        dist[int(k)] = float(v)
                if np.isnan(dist).any():
                    raise SystemExit("missing distances")
                ts = Scores(dist[:len(gen)], dist[len(gen):], gen_ident, imp_ident)
                ideal = []
                for orth in (False, True):
                    sd = srp_distances(srp_rng, xc if profile else x, allp, bits, orth)
                    ideal.append(Scores(sd[:len(gen)], sd[len(gen):], gen_ident, imp_ident))
                rows.append(dict(dims=dims, bits=bits, profile=profile, scores=ts, ref=s,
                                 ideal=ideal))
                log("dims %d bits %d profile %s: %.1fs" % (dims, bits, profile, time.time() - t0))
        db.run("DROP TABLE IF EXISTS bt_acc_tpl, %s, %s" % (cap, pairs))

    # -----------------------------------------------------------------
    # the table
    # -----------------------------------------------------------------
    print()
    print("Distances are template distances (fraction of differing bits); for raw")
    print("cosine, angle/pi, which is what a template distance estimates.")
    print("EER CI: 95%% bootstrap over identities (%d resamples); d(EER): EER minus the"
          % args.boot)
    print("raw-cosine EER of the same centring (paired bootstrap 95% interval).")
    print("thr@EER: threshold (verify accepts distance <= thr) at the EER point.")
    print("thr@FMR0.1%: largest threshold with FMR <= 0.1%, and the FNMR there.")
    print("SRP, orth: EER %, in numpy, of sign random projections of the same")
    print("embeddings with the same bits and centring: Gaussian rows (SimHash) and")
    print("random orthogonal blocks (the floor sign bits can reach).")
    print()
    hdr = ("%4s %-10s %-7s %-18s %-20s %5s %5s %7s %7s %8s %s"
           % ("dims", "bits", "profile", "EER %", "d(EER) pp", "SRP", "orth", "gen", "imp",
              "thr@EER", "thr@FMR0.1% (FNMR)"))
    print(hdr)
    print("-" * len(hdr))
    summary = {}
    for r in rows:
        s = r["scores"]
        eer, thr = s.eer()
        boots = [s.eer(w)[0] for w in boot_w]
        lo, hi = np.percentile(boots, [2.5, 97.5])
        if r["bits"] is None:
            bits_s = "raw cos"
            diff_s = ""
            ideal_s = ("", "")
        else:
            bits_s = "%d (%dx)" % (r["bits"], r["bits"] // r["dims"])
            rb = [r["ref"].eer(w)[0] for w in boot_w]
            dd = np.array(boots) - np.array(rb)
            d0 = eer - r["ref"].eer()[0]
            dlo, dhi = np.percentile(dd, [2.5, 97.5])
            diff_s = "%+.2f [%+.2f,%+.2f]" % (100 * d0, 100 * dlo, 100 * dhi)
            ideal_s = tuple("%.2f" % (100 * i.eer()[0]) for i in r["ideal"])
            summary[(r["dims"], r["bits"] // r["dims"], r["profile"])] = (eer, thr, d0, dhi)
        tf, fn = s.at_fmr(0.001)
        print("%4d %-10s %-7s %-18s %-20s %5s %5s %7.4f %7.4f %8.4f %8.4f (%5.2f%%)"
              % (r["dims"], bits_s, "yes" if r["profile"] else "no",
                 "%5.2f [%.2f,%.2f]" % (100 * eer, 100 * lo, 100 * hi), diff_s, ideal_s[0], ideal_s[1],
                 s.dgen.mean(), s.dimp.mean(), thr, tf, 100 * fn))
        r["eer"], r["thr"] = eer, thr

    # -----------------------------------------------------------------
    # target and threshold suggestion
    # -----------------------------------------------------------------
    print()
    print("Target: at 2 x dims bits with a model profile, EER within 0.5 pp of raw cosine")
    for dims in dims_list:
        if (dims, 2, True) not in summary:
            continue
        eer, thr, d0, dhi = summary[(dims, 2, True)]
        print("  dims %d: %+.2f pp (upper 95%% bound %+.2f pp): %s"
              % (dims, 100 * d0, 100 * dhi,
                 "MET" if d0 <= 0.005 else "NOT MET"))

    # The default of biotoken.match_threshold serves every template, so it
    # is read off the default configuration (2 x dims bits, with a profile)
    # of every dims: the EER threshold, and a lower-FMR point (the largest
    # 0.01 step whose FMR is at most 0.1% for every dims), since a false
    # match of verify is worse than asking for another capture.
    dflt = [r for r in rows
            if r["bits"] is not None and r["bits"] == 2 * r["dims"] and r["profile"]]
    if not dflt:
        return
    print()
    print("Threshold sweep at the default configuration (2 x dims bits, profile):")
    print("  thr   " + "".join("  %4d: FMR %%   FNMR %%" % r["dims"] for r in dflt))
    steps = [round(0.30 + 0.01 * k, 2) for k in range(18)]
    for t in steps:
        print("  %.2f  " % t + "".join("  %13.3f %8.2f" % tuple(100 * v for v in r["scores"].rates_at(t))
                                      for r in dflt))
    ok = [t for t in steps if all(r["scores"].rates_at(t)[0] <= 0.001 for r in dflt)]
    eer_thr = min(r["thr"] for r in dflt)
    print()
    print("EER thresholds: %s; the lowest, rounded down: %.2f"
          % (", ".join("%d dims %.4f" % (r["dims"], r["thr"]) for r in dflt),
             math.floor(eer_thr * 100) / 100))
    if ok:
        sugg = max(ok)
        print("Suggested biotoken.match_threshold = %.2f: the largest 0.01 step with"
              % sugg)
        print("  FMR <= 0.1%% for every dims at 2 x dims bits with a profile (%s)"
              % ", ".join("%d dims: FMR %.3f%%, FNMR %.2f%%"
                          % ((r["dims"],) + tuple(100 * v for v in r["scores"].rates_at(sugg)))
                          for r in dflt))
    print("Without a model profile, impostors are at distance ~0.2: any threshold")
    print("above ~0.25 accepts nearly every impostor (see the 'no' rows).")


if __name__ == "__main__":
    main()
