// Prisma CLI configuration (Prisma 7 reads the database URL from here, not from the schema).
// Only `prisma generate` runs here, which does not connect: a placeholder URL is enough.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  datasource: {
    url: process.env.DATABASE_URL ?? 'postgresql://app@127.0.0.1:5432/app',
  },
});
