// The notebook widget (anywidget): the same panels as the app, drawn from the data `mechscope.show` sent.
// Works wherever anywidget does (Jupyter, VS Code, marimo) and in the standalone HTML export.
import { mount, unmount } from "svelte";
import CircuitPanel from "./components/CircuitPanel.svelte";
import ComparisonPanel from "./components/ComparisonPanel.svelte";
import SteeringSummary from "./components/SteeringSummary.svelte";
import ErrorBox from "./components/ErrorBox.svelte";

const PANELS = { circuit: CircuitPanel, comparison: ComparisonPanel, steering: SteeringSummary };

function render({ model, el }) {
  let app = null;
  const root = document.createElement("div");
  root.className = "mechscope-widget";
  root.style.cssText = "font: 13px system-ui, sans-serif; color: #222; background: #fff; padding: 4px;";
  el.appendChild(root);

  function draw() {
    if (app) unmount(app);
    const kind = model.get("kind");
    const data = model.get("data");
    const Panel = PANELS[kind];
    app = Panel
      ? mount(Panel, { target: root, props: { view: data, diff: model.get("diff") || null } })
      : mount(ErrorBox, { target: root, props: { title: "mechscope widget", message: `cannot show a ${kind}` } });
    model.set("rendered", `${kind}:${Date.now()}`);
    model.save_changes();
  }

  draw();
  model.on("change:data", draw);
  model.on("change:diff", draw);
  return () => {
    model.off("change:data", draw);
    model.off("change:diff", draw);
    if (app) unmount(app);
  };
}

export default { render };
