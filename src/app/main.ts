// Entry of the app page (index.html).
import './app.ts';
