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
