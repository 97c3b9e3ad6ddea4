import type { Transporter } from 'nodemailer';
import type { Db } from '../db/database.js';
import type { Logger } from '../log.js';

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly body: string;
  /** What the mail is for (`password_reset`, `team_invite`), for the outbox and the logs. */
  readonly kind: string;
}

/** Writes a mail to the outbox, in the caller's transaction; deliver it after the commit. */
export async function enqueueMail(executor: Db, message: MailMessage, at: Date): Promise<string> {
  const row = await executor
    .insertInto('mail_outbox')
    .values({
      to_address: message.to,
      subject: message.subject,
      body: message.body,
      kind: message.kind,
      created_at: at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface Mailer {
  readonly enabled: boolean;
  /** Sends one outbox entry over SMTP, then blanks its body (it may hold a link or password). */
  deliver(db: Db, id: string, at: () => Date): Promise<void>;
}

/**
 * nodemailer's defaults wait 2 minutes to connect, 30 s for the greeting and 10 minutes of silence.
 * Delivery runs after the response, but on Vercel inside the function's time budget (waitUntil), so a
 * dead or stalled relay must fail the attempt (recorded in the outbox) long before that budget ends.
 * Query parameters in SMTP_URL (`?socketTimeout=…`) still override these.
 */
export const SMTP_TIMEOUTS = {
  dnsTimeout: 5_000,
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 20_000,
} as const;

export function createMailer(
  smtpUrl: string | null,
  from: string,
  log: Logger,
  timeouts: Partial<typeof SMTP_TIMEOUTS> = {},
): Mailer {
  if (!smtpUrl) {
    return {
      enabled: false,
      async deliver(_db, id) {
        log.info('mail kept in the outbox (SMTP_URL is not set)', { mailId: id });
      },
    };
  }
  // nodemailer is loaded on the first delivery, not at cold start: most requests send no mail.
  let transport: Promise<Transporter> | undefined;
  const transporter = () => {
    transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({ url: smtpUrl, ...SMTP_TIMEOUTS, ...timeouts }),
    );
    return transport;
  };
  return {
    enabled: true,
    async deliver(db, id, at) {
      const mail = await db.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirst();
      if (!mail || mail.sent_at) return;
      try {
        await (await transporter()).sendMail({
          from,
          to: mail.to_address,
          subject: mail.subject,
          text: mail.body,
        });
        await db
          .updateTable('mail_outbox')
          .set((eb) => ({ sent_at: at(), body: '', attempts: eb('attempts', '+', 1), last_error: null }))
          .where('id', '=', id)
          .execute();
      } catch (error) {
        const message = error instanceof Error ? error.message.slice(0, 500) : 'unknown error';
        await db
          .updateTable('mail_outbox')
          .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: message }))
          .where('id', '=', id)
          .execute();
        log.warn('mail delivery failed', { mailId: id, kind: mail.kind, error: message });
      }
    },
  };
}
