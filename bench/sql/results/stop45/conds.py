# Generates tests/difftest/regress/conditions.test: WHERE / ON / FILTER /
# HAVING / CASE WHEN conditions built of AND, OR, NOT, comparisons, IS,
# IS NULL, LIKE, BETWEEN, IN over NULLs, integers, reals and texts; the
# expected rows are Python's sqlite3's.
import random, sqlite3, sys
rnd = random.Random(4242)
db = sqlite3.connect(":memory:")
out = []
def lit(v):
    if v is None: return "NULL"
    if isinstance(v, str): return "'" + v.replace("'", "''") + "'"
    if isinstance(v, float): return repr(v)
    return str(v)
def stmt(sql, count=None):
    cur = db.execute(sql)
    if count is None:
        out.append("statement ok\n" + sql + "\n")
    else:
        out.append(f"statement count {cur.rowcount}\n" + sql + "\n")
def query(sql):
    try:
        rows = db.execute(sql).fetchall()
    except sqlite3.Error:
        out.append("query error\n" + sql + "\n")
        return
    body = "\n".join("|".join(lit(v) for v in r) for r in rows)
    out.append("query\n" + sql + "\n----\n" + body + ("\n" if body else ""))
stmt("CREATE TABLE c (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, x REAL, s TEXT)")
vals = []
ints = [None, 0, 1, 2, -1, 3]
reals = [None, 0.0, 1.0, 1.5, -2.5]
texts = [None, '', 'a', 'ab', 'B', '1', 'a%']
for i in range(1, 25):
    vals.append((i, rnd.choice(ints), rnd.choice(ints), rnd.choice(reals), rnd.choice(texts)))
stmt("INSERT INTO c VALUES " + ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in vals), count=True)
stmt("CREATE INDEX c_a ON c (a)")
cols = ["a", "b", "x", "s", "id"]
def atom(cs=cols):
    k = rnd.randrange(10)
    c = rnd.choice(cs)
    if k < 4:
        op = rnd.choice(["=", "<>", "<", "<=", ">", ">=", "IS", "IS NOT", "=="])
        rhs = rnd.choice([lit(rnd.choice(ints + reals + texts)), rnd.choice(cs), f"{rnd.choice(cs)} + 1", f"{rnd.choice(cs)} % 2"])
        return f"{c} {op} {rhs}"
    if k == 4: return f"{c} IS {'NOT ' if rnd.random() < 0.5 else ''}NULL"
    if k == 5: return f"s {'NOT ' if rnd.random() < 0.3 else ''}LIKE {lit(rnd.choice(['a%', '%b', '_', '%', 'A%']))}"
    if k == 6: return f"{c} {'NOT ' if rnd.random() < 0.3 else ''}BETWEEN {rnd.choice(['0', '-1', 'NULL'])} AND {rnd.choice(['1', '2', 'NULL'])}"
    if k == 7: return f"{c} {'NOT ' if rnd.random() < 0.3 else ''}IN ({', '.join(lit(rnd.choice(ints + texts)) for _ in range(rnd.randrange(1, 4)))})"
    if k == 8: return rnd.choice(cs)  # a bare column as a condition
    return f"length({rnd.choice(cs)}) > {rnd.choice(['0', '1', 'NULL'])}"
def cond(d, cs=cols):
    if d <= 0 or rnd.random() < 0.25:
        return atom(cs)
    k = rnd.randrange(4)
    if k == 0: return f"({cond(d-1, cs)} AND {cond(d-1, cs)})"
    if k == 1: return f"({cond(d-1, cs)} OR {cond(d-1, cs)})"
    if k == 2: return f"NOT ({cond(d-1, cs)})"
    return f"{cond(d-1, cs)} {rnd.choice(['AND', 'OR'])} {cond(d-1, cs)}"
for _ in range(70):
    query(f"SELECT id FROM c WHERE {cond(3)}")
for _ in range(12):
    query(f"SELECT id, a, s FROM c WHERE a = {rnd.choice(['0', '1', '2'])} AND {cond(2)}")
jc = ["c1.a", "c1.b", "c2.a", "c2.s", "c1.s", "c2.x"]
def jcond(d):
    if d <= 0 or rnd.random() < 0.3:
        l, r = rnd.sample(jc, 2)
        return rnd.choice([f"{l} = {r}", f"{l} < {r}", f"{l} IS {r}", f"{l} IS NULL", f"{l} <> {r}"])
    return f"({jcond(d-1)} {rnd.choice(['AND', 'OR'])} {'NOT ' if rnd.random() < 0.2 else ''}{jcond(d-1)})"
for _ in range(10):
    query(f"SELECT c1.id, c2.id FROM c c1 JOIN c c2 ON {jcond(2)} WHERE c1.id < 9 AND c2.id < 9")
for _ in range(8):
    query(f"SELECT c1.id, c2.id FROM c c1 LEFT JOIN c c2 ON {jcond(2)} AND c2.id < 7 WHERE c1.id < 9")
for _ in range(10):
    query(f"SELECT count(*) FILTER (WHERE {cond(2)}), sum(a) FILTER (WHERE {cond(2)}) FROM c")
for _ in range(8):
    query(f"SELECT a, count(*) FROM c GROUP BY a HAVING {rnd.choice(['count(*) > 2', 'sum(b) IS NULL', 'max(s) > ' + lit('a'), 'min(x) < 1'])} {rnd.choice(['AND', 'OR'])} {rnd.choice(['NOT (a = 1)', 'a IS NULL', 'count(*) = 1', 'avg(b) >= 0'])}")
for _ in range(8):
    query(f"SELECT id, CASE WHEN {cond(2)} THEN 'y' WHEN {cond(1)} THEN 'z' ELSE 'n' END FROM c")
for _ in range(6):
    query(f"SELECT id FROM c WHERE ({cond(2)}) = ({cond(2)})")
# LIKE and GLOB over values that are not texts (matched as their text
# forms), patterns from columns, ESCAPE.
for q in ["SELECT id FROM c WHERE a LIKE '1%'", "SELECT id FROM c WHERE x LIKE '1.5'",
          "SELECT id FROM c WHERE x LIKE '%.0'", "SELECT id FROM c WHERE b GLOB '[0-1]'",
          "SELECT id FROM c WHERE s LIKE a", "SELECT id FROM c WHERE 'ab' LIKE s",
          "SELECT id FROM c WHERE s LIKE 'a!%' ESCAPE '!'",
          "SELECT id FROM c WHERE NOT (a LIKE b)", "SELECT id FROM c WHERE -1 LIKE a || ''",
          "SELECT id, s LIKE 'A%', s GLOB 'a*', a LIKE 1 FROM c"]:
    query(q)
# Short-circuits: the right side fails (integer overflow) only where the
# left side does not decide.
query("SELECT id FROM c WHERE a IS NOT 1 AND abs(-9223372036854775807 - a) > 0")
query("SELECT id FROM c WHERE a IS 1 OR abs(-9223372036854775807 - a) > 0")
query("SELECT id FROM c WHERE NOT (a IS 1 OR abs(-9223372036854775807 - a) > 0)")
query("SELECT id FROM c WHERE NOT (a IS NOT 1 AND abs(-9223372036854775807 - a) > 0)")
query("SELECT id FROM c WHERE a = 1 AND abs(-9223372036854775807 - a) > 0")
# A partial index's condition decides which rows it holds.
stmt("CREATE TABLE p (id INTEGER PRIMARY KEY, a INTEGER, s TEXT)")
stmt("CREATE INDEX p_s ON p (s) WHERE NOT (a IS NULL OR a > 2) AND s LIKE 'a%'")
stmt("INSERT INTO p SELECT id, a, s FROM c", count=True)
query("SELECT id FROM p WHERE s = 'a' AND NOT (a IS NULL OR a > 2) AND s LIKE 'a%'")
stmt("UPDATE p SET a = 5 WHERE (a = 0 OR NOT a) AND s IS NOT NULL", count=True)
query("SELECT id FROM p WHERE s = 'a' AND NOT (a IS NULL OR a > 2) AND s LIKE 'a%'")
stmt("DELETE FROM p WHERE NOT (s LIKE 'a%' OR a IS NULL)", count=True)
query("SELECT id, a, s FROM p")
hdr = """# Conditions (WHERE, JOIN ON, FILTER, HAVING, CASE WHEN, a partial
# index's WHERE): AND, OR, NOT, comparisons, IS, IS NULL, LIKE, BETWEEN
# and IN over NULLs, integers, reals and texts, nested up to four deep, in
# three-valued logic; LIKE and GLOB over numbers, blobs and columns;
# short-circuits that skip an overflowing right side.
# Generated (seed 4242) with SQLite's answers.
"""
sys.stdout.write(hdr + "\n" + "\n".join(out))
