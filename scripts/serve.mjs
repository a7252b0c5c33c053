#!/usr/bin/env node
// A tiny static server for the POS demo: www/ at /, the wasm-pack output pkg/
// at /pkg/. No dependencies, GET and HEAD only, nothing cached.
//
//   node scripts/serve.mjs            http://127.0.0.1:8080/
//   PORT=9000 node scripts/serve.mjs  another port (0 picks a free one)
//
// Tests start it in-process: `const server = await startServer({ port: 0 })`.

import http from "node:http";
import { createReadStream, existsSync } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** URL prefix → directory it serves; the longest matching prefix wins. */
const mounts = [
  { prefix: "/pkg/", dir: path.join(repoRoot, "pkg") },
  { prefix: "/", dir: path.join(repoRoot, "www") },
];

const mimeTypes = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

/** Whether `target` is `dir` itself or lies inside it. */
function isInside(dir, target) {
  const rel = path.relative(dir, target);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Maps a request path to a file inside one of the mounts, or returns a status
 * code: 400 for a malformed path, 403 for one escaping its root, 404 when
 * nothing is there. Symbolic links may not lead out of a root either.
 */
async function resolveFile(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return 400;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return 400;

  const mount = mounts.find((m) => decoded.startsWith(m.prefix));
  if (!mount) return 404;
  let file = path.resolve(mount.dir, "." + path.posix.sep + decoded.slice(mount.prefix.length));
  if (!isInside(mount.dir, file)) return 403;

  try {
    let info = await stat(file);
    if (info.isDirectory()) {
      file = path.join(file, "index.html");
      info = await stat(file);
    }
    if (!info.isFile()) return 404;
    const [realRoot, realFile] = await Promise.all([realpath(mount.dir), realpath(file)]);
    if (!isInside(realRoot, realFile)) return 403;
    return { file: realFile, size: info.size };
  } catch {
    return 404;
  }
}

const statusText = { 400: "bad request", 403: "forbidden", 404: "not found", 405: "method not allowed" };

function sendStatus(res, status, extraHeaders = {}) {
  const body = `${status} ${statusText[status] ?? "error"}\n`;
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
    ...extraHeaders,
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

async function handle(req, res) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendStatus(res, 405, { Allow: "GET, HEAD" });
    return;
  }
  // Only the path matters; the query string (cache busters) is ignored.
  const urlPath = (req.url ?? "/").split(/[?#]/, 1)[0];
  if (!urlPath.startsWith("/")) {
    sendStatus(res, 400);
    return;
  }
  const found = await resolveFile(urlPath);
  if (typeof found === "number") {
    sendStatus(res, found);
    return;
  }
  res.writeHead(200, {
    "Content-Type": mimeTypes[path.extname(found.file).toLowerCase()] ?? "application/octet-stream",
    "Content-Length": found.size,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const stream = createReadStream(found.file);
  stream.on("error", () => res.destroy());
  stream.pipe(res);
}

/**
 * Starts the demo server and resolves with the listening `http.Server`.
 * `port: 0` picks a free port; read it back from `server.address().port`.
 */
export function startServer({ port = 8080, host = "127.0.0.1" } = {}) {
  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendStatus(res, 404);
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

async function main() {
  const raw = process.env.PORT || "8080";
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    console.error(`serve.mjs: PORT must be an integer 0–65535, got "${raw}"`);
    process.exit(2);
  }
  if (!existsSync(path.join(repoRoot, "pkg", "posflow.js"))) {
    console.error("serve.mjs: warning: pkg/posflow.js is missing; run `make build` (the page needs it)");
  }
  let server;
  try {
    server = await startServer({ port, host: "127.0.0.1" });
  } catch (err) {
    console.error(`serve.mjs: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  }
  console.log(`posflow demo: http://127.0.0.1:${server.address().port}/`);
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => server.close(() => process.exit(0)).closeAllConnections());
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
