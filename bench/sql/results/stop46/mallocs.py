import re,sys,subprocess
out=subprocess.run(["callgrind_annotate","--tree=caller",sys.argv[1]],capture_output=True,text=True).stdout
lines=out.split('\n'); per=float(sys.argv[2])
for i,l in enumerate(lines):
    if re.search(r'\*\s+\./malloc/\./malloc/malloc\.c:(malloc|realloc) \[',l):
        j=i-1; calls=[]
        while j>=0 and '<' in lines[j]:
            m=re.search(r'<\s+(.*?) \(([\d,]+)x\)',lines[j])
            if m: calls.append((int(m.group(2).replace(',','')),m.group(1).split(':',1)[-1][:150]))
            j-=1
        print("==",l.strip()[:60], f"total {sum(c for c,_ in calls)/per:.1f}/lookup")
        for n,f in sorted(calls,reverse=True)[:22]:
            if n/per>=0.5: print(f"{n/per:7.2f}  {f}")
