// Reads the report of app/benches/page_layers.rs (wasm-bindgen-test's criterion) on stdin and
// prints a Markdown table: per layer, ours and Burn's median time and their ratio, and how ours
// changed against the previous run. Used by bench/page_layers/run.sh.
import { readFileSync } from 'node:fs';

const UNIT_US = { ns: 1e-3, 'µs': 1, us: 1, ms: 1e3, s: 1e6 };
const plain = readFileSync(0, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');

// name -> { time (µs), change (text) }, in the report's order.
const results = new Map();
let name = null;
for (const line of plain.split('\n')) {
  const time = line.match(/^\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]/);
  const change = line.match(/^\s+change:\s+\[\S+ (\S+) \S+\]/);
  if (time && name) {
    results.set(name, { time: Number(time[1]) * UNIT_US[time[2]], change: '' });
  } else if (change && name && results.has(name)) {
    results.get(name).change = change[1];
  } else if (/^\S/.test(line) && !/^(Warming|Collecting|Found|Warning|Running|Try|Ok|Loading|Invoking|using|test result|,)/.test(line)) {
    name = line.trim();
  }
}

const us = (r) => (r ? r.time.toFixed(1) : '-');
console.log('\n| layer or model | ours (µs) | Burn (µs) | Burn / ours | ours vs previous run |');
console.log('|---|---:|---:|---:|---:|');
for (const [key, r] of results) {
  if (key.endsWith(': Burn')) continue;
  const layer = key.replace(/: ours$/, '');
  const burn = results.get(`${layer}: Burn`);
  const ratio = burn ? (burn.time / r.time).toFixed(2) : '-';
  console.log(`| ${layer} | ${us(r)} | ${us(burn)} | ${ratio} | ${r.change || '-'} |`);
}
