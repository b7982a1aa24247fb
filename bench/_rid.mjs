import { pino } from 'pino';
import { parseConfig } from '../dist/host/config/load-config.js';
import { FilterManager } from '../dist/host/filters/filter-manager.js';
import { HttpStream } from '../dist/host/chain/http-stream.js';
import { HeaderMap } from '../dist/host/chain/header-map.js';
const cfg = parseConfig(`upstream: http://127.0.0.1:1\nfilters_dir: ${process.cwd()}/filters\nfilters:\n  - name: a\n    file: request_id.wasm\n`, '/tmp/x.yaml');
const m = new FilterManager(pino({level:'warn'}));
await m.apply(cfg);
const f = m.current.filters[0];
const base = [':method','GET',':path','/x',':authority','127.0.0.1:8080',':scheme','http','user-agent','autocannon','x-api-key','bench-key','accept','*/*'];
const N=5e5;
function t(name, withId){
  const run=()=>{ const s = new HttpStream('5bo-mwr3cguc-'+Math.random(), new HeaderMap(withId? [...base,'x-request-id','abc-123-def-456']:[...base]), {sourceAddress:'',sourcePort:0,destinationAddress:'',destinationPort:0,protocol:'',scheme:''});
   const h=f.open(s); f.requestHeaders(h,s,true); f.close(h,s); };
  for(let i=0;i<5e4;i++) run(); const c=process.cpuUsage(); for(let i=0;i<N;i++) run(); const u=process.cpuUsage(c); console.log(name, ((u.user+u.system)*1000/N).toFixed(0),'ns');
}
//t('no id (generate via property)', false);
t('has id (lookup)', true);
