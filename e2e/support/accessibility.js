// An accessibility audit by axe-core (the rules of WCAG 2 A and AA, and axe's best practices) of
// the page as it stands, in the page itself.
import { createRequire } from "node:module";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

// The rules the page breaks, in its light and its dark theme (the colours differ), one line each
// with up to three of the elements that break them; none when it passes.
export async function accessibilityViolations(page) {
  await page.addScriptTag({ path: AXE });
  const found = [];
  for (const colorScheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme });
    const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    found.push(
      ...violations.map(
        (v) => `${colorScheme}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")})`,
      ),
    );
  }
  await page.emulateMedia({ colorScheme: null });
  return found;
}
