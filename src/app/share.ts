// Take it home: a file goes through the Web Share API where the device can share files (the phone's share sheet,
// which the user completes), else it is downloaded. Either way it is made and kept on the device; nothing is uploaded.
import { download } from '../element/snapshot.ts';

export type Shared = 'shared' | 'downloaded' | 'cancelled';

export async function shareOrDownload(blob: Blob, name: string, text: string): Promise<Shared> {
  const file = new File([blob], name, { type: blob.type });
  if (navigator.canShare?.({ files: [file] })) {
    try {
      await navigator.share({ files: [file], title: 'CNN Fixations', text });
      return 'shared';
    } catch (err) {
      if ((err as Error)?.name === 'AbortError') return 'cancelled'; // the user closed the share sheet
      // NotAllowedError (no user activation left, e.g. after a long encode) and others: download instead.
    }
  }
  download(blob, name);
  return 'downloaded';
}

/** A clip's file extension from its MIME type. */
export const clipExtension = (type: string) => (type.includes('mp4') ? 'mp4' : 'webm');
