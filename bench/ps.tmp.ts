import { summarizeProfile } from './profile-summary.js';
console.log(summarizeProfile(process.argv[2]!, 'x', 30));
