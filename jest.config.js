/** Tests run from TypeScript sources; e2e tests spawn the built CLI (npm test builds first). */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: { types: ["node", "jest"], isolatedModules: true } }],
  },
  testTimeout: 30000,
};
