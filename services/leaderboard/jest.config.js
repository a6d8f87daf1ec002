module.exports = { ...require('../../jest.preset.js'), displayName: 'leaderboard', rootDir: __dirname };
