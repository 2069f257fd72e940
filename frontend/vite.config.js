// The web app: index.html + assets/app.js + assets/app.css, written into the Python package so that
// `pip install` needs no Node. Stable file names keep rebuilds small in git.
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

export default defineConfig({
  plugins: [svelte()],
  base: "/",
  build: {
    outDir: "../src/mechscope/ui/static",
    emptyOutDir: false, // the widget build writes widget.js beside it; names are stable, so nothing goes stale
    target: "es2020",
    rollupOptions: {
      output: {
        entryFileNames: "assets/app.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
});
