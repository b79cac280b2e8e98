# Runs runner workers of several binaries and engines in turn, REPS times;
# prints per workload the median wall time and the least worker CPU time.
# Usage: [ROWS=N] python3 interleave.py REPS label=/path/to/worker-binary:engine ...
# (ROWS: the runner's --rows, from stop 34 on; unset, its ci size as in stop 29)
import json,os,subprocess,sys
ROWS=['--rows',os.environ['ROWS']] if os.environ.get('ROWS') else []
# args: reps, then list of label=path:engine
reps=int(sys.argv[1])
cfg=[(a.split('=')[0],)+tuple(a.split('=')[1].split(':')) for a in sys.argv[2:]]
res={}
for r in range(reps):
    for lab,path,e in cfg:
        out=subprocess.run([path,"worker","--engine",e,"--size","ci"]+ROWS+["--dir","/dev/shm/wb"],capture_output=True,text=True).stdout
        d=json.loads(out.strip().splitlines()[-1])
        ct=d.get('cpu_times',{})
        for k,v in d['times'].items():
            res.setdefault((lab,k),[]).append((v,ct.get(k)))
keys=sorted(set(k for (_,k) in res))
labs=[c[0] for c in cfg]
print('workload (median wall ms / min cpu ms)', *labs)
for k in keys:
    row=[]
    for lab in labs:
        xs=res.get((lab,k),[])
        if not xs: row.append('-'); continue
        wall=sorted(x[0] for x in xs); cpu=sorted(x[1] for x in xs if x[1] is not None)
        row.append(f'{wall[len(wall)//2]*1e3:.2f}/{(cpu[0]*1e3 if cpu else 0):.1f}')
    print(k, *row)
