#!/usr/bin/env python3
"""No import circles between nnopt's modules: a module that another uses must not use it back,
directly or through others (a child using its own parent — `super::` — is Rust's tree, not a
circle). Reads `use` lines and `crate::`/`super::` paths outside test modules; exits 1 naming
each circle. Run from the repository root (scripts/test does)."""
import re,glob,sys
mods={}
for f in glob.glob('src/**/*.rs',recursive=True):
    if f=='src/main.rs': continue
    parts=f[4:-3].split('/')
    if parts[-1]=='mod': parts=parts[:-1]
    if parts==['lib']: parts=[]
    mods['::'.join(['crate']+parts)]=f
def resolve(cur,path):
    segs=path.split('::'); base=cur.split('::')
    if segs[0]=='crate': out=['crate']; segs=segs[1:]
    elif segs[0]=='super':
        out=base[:]
        while segs and segs[0]=='super': out=out[:-1]; segs=segs[1:]
    elif segs[0]=='self': out=base[:]; segs=segs[1:]
    else: return None
    best='::'.join(out) if '::'.join(out) in mods else None
    cand=out[:]
    for s_ in segs:
        cand=cand+[s_]
        if '::'.join(cand) in mods: best='::'.join(cand)
        else: break
    return best
edges={}
for m,f in mods.items():
    if f.endswith('_tests.rs'): continue  # a test module in a file of its own
    src=open(f).read()
    # Test modules (`#[cfg(test)] mod …`) may use anything; a single #[cfg(test)] item stays.
    src=re.sub(r'#\[cfg\(test\)\]\s*mod\s+\w+\s*\{.*', '', src, flags=re.S)
    src=re.sub(r'//[^\n]*','',src)
    refs=set()
    for u in re.findall(r'\buse\s+([^;]+);',src):
        u=u.replace('\n',' '); prefix=u.split('{')[0].strip().rstrip(':')
        if '{' in u:
            inner=u[u.index('{')+1:u.rindex('}')]
            for item in re.split(r',(?![^{]*\})',inner):
                item=item.strip().split(' as ')[0].split('{')[0].strip().rstrip(':')
                if item: refs.add(prefix+'::'+item if item!='self' else prefix)
        else: refs.add(prefix.split(' as ')[0])
    for p in re.findall(r'\b((?:crate|super)(?:::\w+)+)',src): refs.add(p)
    edges[m]={t for r in refs if (t:=resolve(m,r)) and t!=m and not m.startswith(t+'::')}
sys.setrecursionlimit(10000)
index={};low={};st=[];on=set();c=[0];res=[]
def strong(v):
    index[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges.get(v,()):
        if w not in index: strong(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(sorted(comp))
for v in mods:
    if v not in index: strong(v)
for comp in res:
    print('check-imports: an import circle: ' + ' <-> '.join(comp), file=sys.stderr)
sys.exit(1 if res else 0)
