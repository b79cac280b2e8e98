import sqlite3, time, os
n=200000
x=1
def rnd(m):
    global x
    x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF; x ^= x >> 7; x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
    return x % m
al=b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".decode()
if os.path.exists('/dev/shm/lite.db'): os.remove('/dev/shm/lite.db')
db=sqlite3.connect('/dev/shm/lite.db')
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA cache_size=-65536")
db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)")
rows=[]
for i in range(1,n+1):
    k=rnd(n); v=''.join(al[rnd(62)] for _ in range(100)); rows.append((i,k,v))
db.executemany("INSERT INTO t VALUES (?,?,?)", rows); db.commit()
db.execute("CREATE INDEX tk ON t(k)"); db.commit()
for name,q in [("filt","SELECT count(*), sum(k) FROM t WHERE k > 1000 AND length(v) > 10 AND v LIKE '%a%'"),("grp","SELECT k % 100, count(*), sum(length(v)) FROM t GROUP BY k % 100"),("agg","SELECT COUNT(*), SUM(k), SUM(LENGTH(v)) FROM t")]:
    db.execute(q).fetchall()
    best=1e9
    for _ in range(5):
        t=time.perf_counter(); r=db.execute(q).fetchall(); best=min(best,time.perf_counter()-t)
    print(name, f"{best*1000:.1f} ms", r[0])
for name,q in [("top","SELECT id, v FROM t ORDER BY v LIMIT 10"),("sort","SELECT id, k FROM t WHERE id % 10 = 0 ORDER BY v"),("dist","SELECT count(DISTINCT k % 1000) FROM t"),("f2","SELECT count(*) FROM t WHERE id % 3 = 0 AND length(v) > 10"),("f3","SELECT count(*) FROM t WHERE v LIKE '%a%'")]:
    best=1e9
    for _ in range(5):
        t=time.perf_counter(); r=db.execute(q).fetchall(); best=min(best,time.perf_counter()-t)
    print(name, f"{best*1000:.1f} ms", len(r))
best=1e9
for _ in range(5):
    t=time.perf_counter(); db.execute("UPDATE t SET k = k + 1 WHERE id % 10 = 0"); best=min(best,time.perf_counter()-t)
db.rollback()
print("upd", f"{best*1000:.1f} ms")
