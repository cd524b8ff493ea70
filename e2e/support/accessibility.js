// An accessibility audit by axe-core (the rules of WCAG 2 A and AA, and axe's best practices) of
// the page as it stands, in the page itself.
import { createRequire } from "node:module";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

// The rules the page breaks, one line each with up to three of the elements that break them;
// none when it passes.
export async function accessibilityViolations(page) {
  await page.addScriptTag({ path: AXE });
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return violations.map(
    (v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")})`,
  );
}
