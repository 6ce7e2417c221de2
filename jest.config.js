/** Tests run from TypeScript sources; e2e tests spawn the built CLI (npm test builds first). */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { isolatedModules: true, tsconfig: { types: ["node", "jest"] } }],
  },
  testTimeout: 30000,
};
