import sqlite3, time, os, sys
n=int(sys.argv[1]); p='/dev/shm/ddl.sqlite'
for f in (p, p+'-wal', p+'-journal'):
    if os.path.exists(f): os.remove(f)
c=sqlite3.connect(p, isolation_level=None)
for i in range(n):
    c.execute(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, a TEXT, b INTEGER)")
k=100
t=time.perf_counter()
for i in range(k): c.execute(f"CREATE TABLE x{i} (id INTEGER PRIMARY KEY, a TEXT)")
ct=(time.perf_counter()-t)/k*1e6
t=time.perf_counter()
for i in range(k): c.execute(f"CREATE INDEX xi{i} ON x{i} (a)")
ci=(time.perf_counter()-t)/k*1e6
t=time.perf_counter()
for i in range(k): c.execute(f"ALTER TABLE x{i} ADD COLUMN c INTEGER")
add=(time.perf_counter()-t)/k*1e6
t=time.perf_counter()
for i in range(k): c.execute(f"ALTER TABLE x{i} RENAME TO y{i}")
ren=(time.perf_counter()-t)/k*1e6
t=time.perf_counter()
for i in range(k): c.execute(f"DROP TABLE y{i}")
d=(time.perf_counter()-t)/k*1e6
print(f"sqlite {sqlite3.sqlite_version} at {n} tables: create {ct:.1f} us, create index {ci:.1f} us, add column {add:.1f} us, rename table {ren:.1f} us, drop table {d:.1f} us")
