/**
 * @module Builds the dashboard into ../dist/web (served by the platform at `/`). `npx vite web`
 * serves it with hot reload, sending /api to a platform on 127.0.0.1:4400 (`npm start`).
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  build: { outDir: '../dist/web', emptyOutDir: true },
  server: { proxy: { '/api': 'http://127.0.0.1:4400' } },
});
