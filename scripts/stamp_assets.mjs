// Stamps the built page with a version for every file it fetches by a fixed name (loader.js,
// worker.js, the threaded and WebGPU builds, the model bundles, examples and Lab data), so that a
// browser fetches a file again once a redeploy changed it, and keeps it from its cache until then.
// Trunk content-hashes only the page's own module and CSS. Without this, a returning visitor whose
// browser cached, say, threads/app.js could run an old worker build beside a new page.
//
// The version of a file is the start of its SHA-256. The list goes into index.html as JSON
// (`<script type="application/json" id="asset-versions">`), which app/loader.js and the page
// (app/src/assets.rs) read to add `?v=<version>` to their URLs; index.html's own references
// (loader.js) get it here. Running it again replaces an earlier stamp.
//
// Trunk runs it after building index.html (Trunk.toml, [[hooks]]) on its staging folder; the
// worker builds (threads.html, webgpu.html) are stamped as part of the page that copies them.
//
//     node scripts/stamp_assets.mjs [DIR]
import { createHash } from "node:crypto";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";

const MANIFEST_ID = "asset-versions";
// The list as stamp() writes it, before `</head>`, so that removing it restores the page exactly.
const MANIFEST = new RegExp(`<script type="application/json" id="${MANIFEST_ID}">[^<]*</script>\n`);
// A quoted relative reference in index.html ("./loader.js"), with an earlier stamp if any.
const REFERENCE = /(["'])(\.\/)?([\w./-]+?)(\?v=[0-9a-f]+)?\1/g;

// The first 16 hex digits of the file's SHA-256: 64 bits, ample to tell two deployments apart.
export async function version(path) {
  return createHash("sha256").update(await readFile(path)).digest("hex").slice(0, 16);
}

async function* files(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

// Every file of the built page but its HTML, by its path relative to the page.
export async function versions(dir) {
  const found = {};
  for await (const path of files(dir)) {
    if (!path.endsWith(".html")) found[relative(dir, path).split(sep).join("/")] = await version(path);
  }
  return Object.fromEntries(Object.entries(found).sort(([a], [b]) => a.localeCompare(b)));
}

export async function stamp(dir) {
  const index = join(dir, "index.html");
  const stamped = await versions(dir);
  const html = (await readFile(index, "utf8"))
    .replace(MANIFEST, "")
    .replace(REFERENCE, (whole, quote, dot = "", path) =>
      stamped[path] ? `${quote}${dot}${path}?v=${stamped[path]}${quote}` : whole,
    )
    .replace(
      "</head>",
      `<script type="application/json" id="${MANIFEST_ID}">${JSON.stringify(stamped)}</script>\n</head>`,
    );
  await writeFile(index, html);
  return stamped;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2] ?? process.env.TRUNK_STAGING_DIR;
  if (!dir) throw new Error("usage: node scripts/stamp_assets.mjs DIR (Trunk's hook passes TRUNK_STAGING_DIR)");
  // Trunk runs its hooks for the worker builds too; the page's build stamps their files.
  const building = process.env.TRUNK_HTML_FILE;
  if (!building || basename(building) === "index.html") {
    const stamped = await stamp(dir);
    console.error(`stamped ${Object.keys(stamped).length} files with their versions in ${join(dir, "index.html")}`);
  }
}
