// Loaded into the program's node (--require) by tools/bench/preview.ts: on exit, writes the process's own wall time
// and CPU time, so the benchmark measures the program's evaluation, not the engine around it.
const { writeFileSync } = require("node:fs");
process.on("exit", () => {
  const cpu = process.cpuUsage();
  writeFileSync(process.env.ENGINE_CPU_REPORT, JSON.stringify({ wallMs: process.uptime() * 1000, userMs: cpu.user / 1000, systemMs: cpu.system / 1000 }));
});
