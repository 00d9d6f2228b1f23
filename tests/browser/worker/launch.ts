// Chromium flags for WebGPU presenting to a canvas in headless SwiftShader: the compute-only flags of
// playwright.config.ts plus Vulkan (Chromium presents WebGPU through Vulkan, here SwiftShader's), and the SwiftShader
// ICD in the environment. The worker specs and the app's (tests/browser/app/fixtures.ts) launch with these.
import { CHROMIUM_ARGS } from '../../../playwright.config.ts';

export const PRESENT_ARGS = [
  ...CHROMIUM_ARGS,
  '--enable-features=Vulkan,CDPScreenshotNewSurface',
  '--use-vulkan=swiftshader',
  '--use-angle=vulkan',
];
export const PRESENT_ENV = { ...process.env, VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' } as Record<
  string,
  string
>;
export const PRESENT_LAUNCH = { executablePath: '/usr/bin/chromium', args: PRESENT_ARGS, env: PRESENT_ENV };
