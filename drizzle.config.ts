// drizzle-kit: generates the platform's SQL migrations from its schema (npm run db:generate).
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/platform/store/schema.ts',
  out: './src/platform/store/migrations',
});
