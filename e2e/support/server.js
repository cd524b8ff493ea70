// A static file server for the built page (dist/), on loopback only, as a static host would serve it.
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".wasm": "application/wasm",
  ".css": "text/css",
  ".json": "application/json",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".bin": "application/octet-stream",
  ".onnx": "application/octet-stream",
};

// What makes a page cross-origin isolated (scripts/serve.sh sends them too, through Trunk.toml).
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

// The headers a host that reads the site's `_headers` file (Netlify, Cloudflare Pages; app/_headers)
// sends for a path, as a function for `serveDirectory`: its default Cache-Control (check on every
// visit), replaced by the file's, and every header of every rule whose pattern matches (`*` matches
// anything), the values of one header from several rules joined by commas, as both hosts document.
export async function hostHeaders(root) {
  const rules = [];
  for (const line of (await readFile(join(root, "_headers"), "utf8")).split("\n")) {
    const text = line.trim();
    if (!text || text.startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      const pattern = text.split("*").map((part) => part.replace(/[.?+^$|()[\]{}\\]/g, "\\$&")).join(".*");
      rules.push({ pattern: new RegExp(`^${pattern}$`), headers: [] });
      continue;
    }
    const header = text.match(/^([\w-]+):\s*(.+)$/);
    if (!header || !rules.length) throw new Error(`${root}/_headers: "${line}" is neither a path nor a header under one`);
    rules.at(-1).headers.push([header[1].toLowerCase(), header[2]]);
  }
  return (path) => {
    const matched = {};
    for (const { pattern, headers } of rules.filter((rule) => rule.pattern.test(path))) {
      for (const [name, value] of headers) matched[name] = matched[name] ? `${matched[name]}, ${value}` : value;
    }
    return { "cache-control": "public, max-age=0, must-revalidate", ...matched };
  };
}

// `headers` go on every response (e.g. COOP/COEP, which make the page cross-origin isolated so
// that it may use threads); as a function, `headers(path)` gives a response's headers. `gate(path)`,
// where given, is awaited before a file is served: it resolves to false to answer "not found"
// instead (a test holds or breaks a download with it). `served`, where given, is an array that
// gets the address (path and query) of every file served.
export async function serveDirectory(root, { headers = {}, gate = async () => true, served } = {}) {
  await stat(join(root, "index.html")).catch(() => {
    throw new Error(`${root}/index.html is missing: build the page first (scripts/test.sh does)`);
  });
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
    const file = join(root, normalize(path.endsWith("/") ? path + "index.html" : path));
    try {
      if (!(await gate(path))) throw new Error(`${path} is gated`);
      const body = await readFile(file);
      const extra = typeof headers === "function" ? headers(path) : headers;
      response.writeHead(200, { ...extra, "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      response.end(body);
      served?.push(request.url);
    } catch {
      response.writeHead(404).end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}
