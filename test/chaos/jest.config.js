// The chaos suite on its own: `npx jest -c test/chaos/jest.config.js --runInBand` (builds the services first).
module.exports = { ...require('../../jest.preset.js'), displayName: 'chaos', rootDir: __dirname };
