// What the page's main thread did, watched from before the page's own scripts run (an init
// script: `page.addInitScript(observeLongTasks)`).

// Records in the page every long task of its main thread from the start (`window.longTasks`,
// PerformanceObserver 'longtask': over 50 ms), and when its models began loading and became
// ready (`window.modelsAt`, by `#model-status`'s state).
export function observeLongTasks() {
  window.longTasks = [];
  window.longTasksSupported = PerformanceObserver.supportedEntryTypes.includes("longtask");
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: "longtask", buffered: true });
  window.modelsAt = {};
  new MutationObserver(() => {
    const state = document.querySelector("#model-status")?.dataset.state;
    if (state && window.modelsAt[state] === undefined) window.modelsAt[state] = performance.now();
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
}
