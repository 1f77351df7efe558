import './styles.css';
import { startApp } from './app';
import { readConfig } from './config';
import { lang } from './i18n';

document.documentElement.lang = lang();
// Content arrives after load (the job, history): coming back starts at the top, where the current job is.
if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
const root = document.getElementById('app');
if (root) void startApp(readConfig(), root);
