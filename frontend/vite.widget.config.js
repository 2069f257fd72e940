// The notebook widget: one self-contained ES module (styles injected by the components themselves),
// which anywidget loads in Jupyter, VS Code and marimo, and the standalone HTML export inlines.
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

export default defineConfig({
  plugins: [svelte({ compilerOptions: { css: "injected" } })],
  publicDir: false,
  build: {
    outDir: "../src/mechscope/ui/static",
    emptyOutDir: false,
    target: "es2020",
    lib: { entry: "src/widget.js", formats: ["es"], fileName: () => "widget.js" },
  },
});
