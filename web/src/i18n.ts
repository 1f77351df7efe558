import type { ToolId } from '../../lambdas/domain/catalog';
import type { JobErrorCode } from '../../lambdas/domain/errors';
import type { JobStatus } from '../../lambdas/domain/jobs';
import type { LedgerReason } from '../../lambdas/domain/ports';

/** Every user-facing sentence, in Brazilian Portuguese (default) and English. */

export type Lang = 'pt-BR' | 'en';
const LANG_KEY = 'ghostless.lang';

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

const ptCredits = (n: number) => `${n} ${plural(n, 'crédito', 'créditos')}`;
const enCredits = (n: number) => `${n} ${plural(n, 'credit', 'credits')}`;

function enOrdinal(n: number) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th'}`;
}

const pt = {
  appTagline: 'Ferramentas de IA para suas fotos e vídeos',
  skipToContent: 'Pular para o conteúdo',
  langToggleLabel: 'Switch to English',
  signOut: 'Sair',
  signedInAs: (id: string) => `Conectado como ${id}`,
  credits: ptCredits,
  balancePrefix: 'Saldo: ',
  addCredits: '+20 créditos (teste)',
  addCreditsDone: (n: number) => `Saldo atualizado: ${ptCredits(n)}.`,

  signInTitle: 'Entrar',
  signInLocalHint: 'Modo local: digite qualquer nome. Cada nome é um usuário diferente.',
  nameLabel: 'Seu nome',
  signInAs: (id: string) => `Você entrará como “${id}”.`,
  signInInvalid: 'Use de 1 a 64 letras, números, ponto, hífen, sublinhado ou @.',
  signInSubmit: 'Entrar',
  recentUsers: 'Usados recentemente',
  emailLabel: 'E-mail',
  passwordLabel: 'Senha',
  createAccount: 'Criar conta',
  createAccountTitle: 'Criar sua conta',
  haveAccount: 'Já tenho conta',
  noAccount: 'Ainda não tem conta?',
  passwordHint: 'Pelo menos 8 caracteres, com letras maiúsculas e minúsculas, números e símbolos.',
  confirmEmailTitle: 'Confirme seu e-mail',
  confirmEmailHint: (email: string) => `Enviamos um código para ${email}. Digite-o abaixo.`,
  codeLabel: 'Código',
  confirmSubmit: 'Confirmar',
  resendCode: 'Reenviar código',
  codeResent: 'Código reenviado.',
  forgotPassword: 'Esqueci minha senha',
  forgotTitle: 'Redefinir senha',
  forgotHint: 'Informe o e-mail da sua conta. Vamos enviar um código para você criar uma nova senha.',
  sendCode: 'Enviar código',
  resetTitle: 'Crie uma nova senha',
  resetHint: (email: string) => `Se houver uma conta com ${email}, enviamos um código para esse endereço. Digite o código e a nova senha.`,
  newPasswordLabel: 'Nova senha',
  resetSubmit: 'Salvar nova senha',
  backToSignIn: 'Voltar para o login',
  codeSent: 'Código enviado.',
  useEmailAccount: 'Entrar com e-mail e senha',
  useLocalName: 'Entrar só com um nome',
  localMailNote: 'Modo local: nenhum e-mail sai de verdade. O código aparece no log do servidor.',
  signOutEverywhere: 'Sair de todos os dispositivos',
  signedOutEverywhere: 'Você saiu de todos os dispositivos. Entre de novo para continuar.',
  signOutEverywhereFailed: 'Não foi possível sair dos outros dispositivos. Tente de novo.',
  accountError: {
    NotAuthorizedException: 'E-mail ou senha incorretos.',
    UserNotFoundException: 'E-mail ou senha incorretos.',
    UsernameExistsException: 'Já existe uma conta com este e-mail. Entre com ela.',
    InvalidPasswordException: 'Senha fraca: use pelo menos 8 caracteres, com maiúsculas, minúsculas, números e símbolos.',
    InvalidParameterException: 'Confira o e-mail e a senha.',
    CodeMismatchException: 'Código incorreto. Confira e tente de novo.',
    ExpiredCodeException: 'O código expirou. Peça outro.',
    LimitExceededException: 'Muitas tentativas. Espere um pouco e tente de novo.',
    UserNotConfirmedException: 'Confirme seu e-mail antes de entrar.',
    TooManyRequestsException: 'Muitas tentativas. Espere um pouco e tente de novo.',
    TooManyFailedAttemptsException: 'Muitas tentativas. Espere um pouco e tente de novo.',
  } as Record<string, string>,
  sessionExpired: 'Sua sessão expirou. Entre de novo.',
  signInFailed: 'Não foi possível entrar. Tente de novo.',

  toolsHeading: 'Escolha a ferramenta',
  toolName: {
    'upscale-image': 'Ampliar imagem',
    'upscale-video': 'Ampliar vídeo',
    'pose-changer': 'Trocar pose',
    'try-on': 'Provador virtual',
  } satisfies Record<ToolId, string>,
  toolDescription: {
    'upscale-image': 'Aumenta a resolução da foto em 2× ou 4×.',
    'upscale-video': 'Dobra a resolução do vídeo (MP4 ou MOV).',
    'pose-changer': 'Coloca a pessoa na pose da foto de referência.',
    'try-on': 'Veste a roupa da foto na pessoa.',
  } satisfies Record<ToolId, string>,
  slotName: {
    image: 'Imagem',
    video: 'Vídeo',
    person: 'Foto da pessoa',
    pose: 'Foto da pose',
    garment: 'Foto da roupa',
  } as Record<string, string>,
  paramName: { scale: 'Ampliação', category: 'Tipo de roupa' } as Record<string, string>,
  paramValue: { top: 'Parte de cima', bottom: 'Parte de baixo', full: 'Peça inteira', 2: '2×', 4: '4×' } as Record<string, string>,
  chooseFile: 'Escolher arquivo',
  noFile: 'Nenhum arquivo escolhido',
  changeFile: 'Trocar arquivo',
  accepts: (types: string, mb: number) => `${types} · até ${mb} MB`,
  or: 'ou',
  priceLine: (cost: number, balance: number | null) =>
    `Custa ${ptCredits(cost)}${balance === null ? '' : ` · seu saldo: ${ptCredits(balance)}`}`,
  submit: (cost: number) => `Enviar (${ptCredits(cost)})`,
  missingFile: (slot: string) => `Escolha um arquivo para “${slot}”.`,
  busyReason: 'Você já tem um pedido em andamento. Quando ele terminar, ou se você cancelá-lo, dá para enviar outro.',

  errUnsupported: (type: string, slot: string, accepted: string) =>
    `O tipo “${type || 'desconhecido'}” não é aceito em “${slot}”; use ${accepted}.`,
  errTooLarge: (slot: string, mb: number) => `O arquivo de “${slot}” passa do limite de ${mb} MB.`,
  errInsufficient: (cost: number, balance: number) =>
    `Saldo insuficiente: este pedido custa ${ptCredits(cost)} e seu saldo é ${ptCredits(balance)}.`,
  errInvalidRequest: (message: string) => `Pedido inválido: ${message}`,
  errNetwork: 'Sem conexão com o servidor. Verifique sua internet e tente de novo.',
  errServer: 'O servidor encontrou um problema. Tente de novo em instantes.',
  errJobFinished: 'Este pedido já terminou.',
  errNotFound: 'Pedido não encontrado.',

  uploadHeading: 'Enviando arquivos',
  uploadCancel: 'Cancelar',
  uploadCancelLabel: (slot: string) => `Cancelar envio de ${slot}`,
  uploadDone: 'Enviado',
  uploadCancelled: 'Envio cancelado. Nenhum pedido foi criado e nada foi cobrado.',
  uploadFailed: (reason: string) => `O envio falhou: ${reason}. Nenhum pedido foi criado e nada foi cobrado.`,
  uploadNetwork: 'a conexão caiu durante o envio',
  uploadExpired: 'o link de envio expirou',
  uploadRejected: 'o armazenamento recusou o arquivo',
  creatingJob: 'Arquivos enviados. Criando o pedido…',
  creatingSlow: 'Ainda criando o pedido… isso costuma levar poucos segundos.',

  status: {
    queued: 'Na fila',
    running: 'Processando',
    succeeded: 'Pronto',
    failed: 'Falhou',
    cancelled: 'Cancelado',
  } satisfies Record<JobStatus, string>,
  position: (n: number) => `Posição na fila: ${n}ª`,
  positionAhead: (n: number) => (n <= 1 ? 'Seu pedido é o próximo.' : `${n - 1} ${plural(n - 1, 'pedido', 'pedidos')} antes do seu.`),
  positionHint: 'A posição é atualizada sozinha. Pode sair do app: o pedido continua.',
  queuedFor: (t: string) => `Esperando há ${t}`,
  runningBig: 'Gerando seu resultado…',
  estimateWait: (d: string) => `Espera estimada: ${d} (é só uma estimativa, pode variar).`,
  estimateLeft: (d: string) => `Tempo restante estimado: ${d} (pode variar).`,
  estimateOver: 'Está levando mais que o normal; o resultado aparece aqui quando ficar pronto.',
  roughly: (minutes: number) => (minutes < 1 ? 'menos de 1 minuto' : `cerca de ${minutes} min`),
  runningFor: (t: string) => `Tempo decorrido: ${t}`,
  runningHint: 'Pode sair do app: quando voltar, o resultado estará aqui.',
  cancelJob: 'Cancelar pedido',
  confirmTitle: 'Cancelar este pedido?',
  confirmQueued: (n: number) => `Ele sai da fila e ${plural(n, 'seu 1 crédito é devolvido', `seus ${n} créditos são devolvidos`)}.`,
  confirmRunning: (n: number) =>
    `Ele já está em processamento: ${plural(n, 'o 1 crédito NÃO será devolvido', `os ${n} créditos NÃO serão devolvidos`)}.`,
  confirmYes: 'Sim, cancelar',
  confirmNo: 'Voltar',
  resultHeading: 'Resultado',
  before: 'Antes',
  after: 'Depois',
  compareLabel: 'Comparar antes e depois',
  download: 'Baixar resultado',
  downloadN: (n: number) => `Baixar resultado ${n}`,
  newJob: 'Novo pedido',
  createdAgo: (t: string) => `criado ${t}`,
  costCharged: (n: number) => `${ptCredits(n)} ${plural(n, 'cobrado', 'cobrados')}`,
  costRefunded: (n: number) => `${ptCredits(n)} ${plural(n, 'devolvido', 'devolvidos')}`,
  costNotCharged: 'sem cobrança',
  technicalDetails: 'Detalhes técnicos',
  jobError: {
    INSUFFICIENT_CREDITS: 'Seu saldo não era suficiente quando o envio terminou.',
    USER_BUSY: 'Você já tinha outro pedido em andamento quando o envio terminou.',
    INVALID_INPUT:
      'O arquivo não é o que parece: o conteúdo não corresponde ao tipo do arquivo (por exemplo, um texto renomeado para .png).',
    PROVIDER_ERROR: 'O serviço de IA não conseguiu processar este pedido.',
    PROVIDER_TIMEOUT: 'O serviço de IA demorou demais para responder.',
    QUEUE_TIMEOUT: 'A fila demorou demais e o pedido expirou antes de começar.',
    CANCELLED_BY_USER: 'Você cancelou este pedido.',
    HEALED: 'Este pedido parou de responder e foi encerrado automaticamente.',
    INTERNAL: 'Algo deu errado do nosso lado.',
  } satisfies Record<JobErrorCode, string>,
  notCharged: 'Nada foi cobrado.',
  refunded: (n: number) => (n === 1 ? 'Seu 1 crédito foi devolvido.' : `Seus ${n} créditos foram devolvidos.`),
  notRefunded: (n: number) =>
    `${n === 1 ? 'O 1 crédito não foi devolvido' : `Os ${n} créditos não foram devolvidos`}: o pedido já estava em processamento.`,
  notRefundedFailed: (n: number) => (n === 1 ? 'O 1 crédito não foi devolvido.' : `Os ${n} créditos não foram devolvidos.`),

  activeTitle: 'Você já tem um pedido em andamento',
  activeTitleAfter: { cancelled: 'Fila liberada', running: 'Seu pedido já começou', ended: 'Seu pedido terminou' },
  activeBody: 'Só dá para fazer um pedido por vez. Este é o seu pedido atual:',
  activeRunningHint: 'Ele já está em processamento. Aguarde terminar ou cancele-o (sem devolução dos créditos).',
  activeQueuedHint: '“Liberar fila” cancela seus pedidos que estão na fila e devolve os créditos.',
  viewJob: 'Ver pedido',
  releaseQueue: 'Liberar fila',
  released: (n: number) =>
    n === 0
      ? 'Não havia nada seu na fila para liberar.'
      : `Fila liberada: ${n} ${plural(n, 'pedido cancelado', 'pedidos cancelados')}, créditos devolvidos.`,
  retry: 'Enviar agora',
  close: 'Fechar',

  historyHeading: 'Histórico',
  historyEmpty: 'Nenhum pedido ainda.',
  historyMore: 'Carregar mais',
  historyView: 'Ver',
  historyViewLabel: (tool: string, date: string) => `Ver pedido ${tool} de ${date}`,
  loading: 'Carregando…',
  refresh: 'Atualizar',

  ledgerHeading: 'Extrato de créditos',
  ledgerEmpty: 'Nenhuma movimentação ainda.',
  ledgerReason: {
    signup: 'Bônus de boas-vindas',
    operator: 'Créditos adicionados pela equipe',
    adjustment: 'Ajuste de saldo',
    debit: 'Pedido cobrado',
    refund: 'Créditos devolvidos',
  } as Record<LedgerReason, string>,
  ledgerDelta: (delta: number) => `${delta > 0 ? '+' : '−'}${ptCredits(Math.abs(delta))}`,
  ledgerBalance: (n: number) => `saldo ${ptCredits(n)}`,

  updateAvailable: 'Nova versão disponível',
  updateNow: 'Atualizar',
  pushOffer: 'Avisar quando ficar pronto',
  pushOfferDismiss: 'Agora não',
  pushOn: 'Combinado: você recebe um aviso quando ficar pronto.',
  pushFailed: 'Não deu para ativar os avisos neste aparelho. Acompanhe por aqui.',
  uploadBytes: (loaded: string, total: string) => `${loaded} de ${total}`,
  uploadSpeed: (rate: string) => `${rate}/s`,
  uploadTimeLeft: (seconds: number) =>
    seconds < 60 ? `faltam cerca de ${Math.max(1, Math.round(seconds))} s` : `faltam cerca de ${Math.round(seconds / 60)} min`,
  uploadResumed: (stored: string) => `Continuando de onde parou: ${stored} já estavam salvos.`,
};

export type Dict = typeof pt;

const en: Dict = {
  appTagline: 'AI tools for your photos and videos',
  skipToContent: 'Skip to content',
  langToggleLabel: 'Mudar para português',
  signOut: 'Sign out',
  signedInAs: (id) => `Signed in as ${id}`,
  credits: enCredits,
  balancePrefix: 'Balance: ',
  addCredits: '+20 credits (test)',
  addCreditsDone: (n) => `Balance updated: ${enCredits(n)}.`,

  signInTitle: 'Sign in',
  signInLocalHint: 'Local mode: type any name. Each name is a different user.',
  nameLabel: 'Your name',
  signInAs: (id) => `You will sign in as “${id}”.`,
  signInInvalid: 'Use 1 to 64 letters, digits, dot, hyphen, underscore or @.',
  signInSubmit: 'Sign in',
  recentUsers: 'Recently used',
  emailLabel: 'Email',
  passwordLabel: 'Password',
  createAccount: 'Create account',
  createAccountTitle: 'Create your account',
  haveAccount: 'I have an account',
  noAccount: 'No account yet?',
  passwordHint: 'At least 8 characters, with upper- and lower-case letters, digits and symbols.',
  confirmEmailTitle: 'Confirm your email',
  confirmEmailHint: (email) => `We sent a code to ${email}. Type it below.`,
  codeLabel: 'Code',
  confirmSubmit: 'Confirm',
  resendCode: 'Send the code again',
  codeResent: 'Code sent again.',
  forgotPassword: 'Forgot password?',
  forgotTitle: 'Reset your password',
  forgotHint: 'Enter the email of your account. We will send you a code to choose a new password.',
  sendCode: 'Send code',
  resetTitle: 'Choose a new password',
  resetHint: (email) => `If there is an account for ${email}, we sent a code to that address. Type the code and your new password.`,
  newPasswordLabel: 'New password',
  resetSubmit: 'Save new password',
  backToSignIn: 'Back to sign in',
  codeSent: 'Code sent.',
  useEmailAccount: 'Sign in with email and password',
  useLocalName: 'Sign in with just a name',
  localMailNote: 'Local mode: no email really leaves. The code appears in the server log.',
  signOutEverywhere: 'Sign out everywhere',
  signedOutEverywhere: 'You are signed out on all your devices. Sign in again to continue.',
  signOutEverywhereFailed: 'Could not sign out on your other devices. Please try again.',
  accountError: {
    NotAuthorizedException: 'Wrong email or password.',
    UserNotFoundException: 'Wrong email or password.',
    UsernameExistsException: 'There is already an account with this email. Sign in with it.',
    InvalidPasswordException: 'Weak password: use at least 8 characters, with upper- and lower-case letters, digits and symbols.',
    InvalidParameterException: 'Check the email and the password.',
    CodeMismatchException: 'Wrong code. Check it and try again.',
    ExpiredCodeException: 'The code expired. Ask for another one.',
    LimitExceededException: 'Too many attempts. Wait a little and try again.',
    UserNotConfirmedException: 'Confirm your email before signing in.',
    TooManyRequestsException: 'Too many attempts. Wait a little and try again.',
    TooManyFailedAttemptsException: 'Too many attempts. Wait a little and try again.',
  },
  sessionExpired: 'Your session expired. Please sign in again.',
  signInFailed: 'Could not sign in. Please try again.',

  toolsHeading: 'Choose a tool',
  toolName: {
    'upscale-image': 'Upscale image',
    'upscale-video': 'Upscale video',
    'pose-changer': 'Pose changer',
    'try-on': 'Virtual try-on',
  },
  toolDescription: {
    'upscale-image': 'Raises the photo’s resolution 2× or 4×.',
    'upscale-video': 'Doubles the video’s resolution (MP4 or MOV).',
    'pose-changer': 'Puts the person in the reference photo’s pose.',
    'try-on': 'Dresses the person in the garment from the photo.',
  },
  slotName: { image: 'Image', video: 'Video', person: 'Photo of the person', pose: 'Pose reference', garment: 'Garment photo' },
  paramName: { scale: 'Scale', category: 'Garment type' },
  paramValue: { top: 'Top', bottom: 'Bottom', full: 'Full body', 2: '2×', 4: '4×' },
  chooseFile: 'Choose file',
  noFile: 'No file chosen',
  changeFile: 'Change file',
  accepts: (types, mb) => `${types} · up to ${mb} MB`,
  or: 'or',
  priceLine: (cost, balance) => `Costs ${enCredits(cost)}${balance === null ? '' : ` · your balance: ${enCredits(balance)}`}`,
  submit: (cost) => `Start (${enCredits(cost)})`,
  missingFile: (slot) => `Choose a file for “${slot}”.`,
  busyReason: 'You already have a job in progress. When it ends, or if you cancel it, you can start another.',

  errUnsupported: (type, slot, accepted) => `“${type || 'unknown'}” is not accepted for “${slot}”; use ${accepted}.`,
  errTooLarge: (slot, mb) => `The file for “${slot}” is larger than the ${mb} MB limit.`,
  errInsufficient: (cost, balance) => `Not enough credits: this job costs ${enCredits(cost)} and your balance is ${enCredits(balance)}.`,
  errInvalidRequest: (message) => `Invalid request: ${message}`,
  errNetwork: 'Cannot reach the server. Check your connection and try again.',
  errServer: 'The server ran into a problem. Please try again shortly.',
  errJobFinished: 'This job has already finished.',
  errNotFound: 'Job not found.',

  uploadHeading: 'Uploading files',
  uploadCancel: 'Cancel',
  uploadCancelLabel: (slot) => `Cancel the upload of ${slot}`,
  uploadDone: 'Uploaded',
  uploadCancelled: 'Upload cancelled. No job was created and nothing was charged.',
  uploadFailed: (reason) => `The upload failed: ${reason}. No job was created and nothing was charged.`,
  uploadNetwork: 'the connection dropped during the upload',
  uploadExpired: 'the upload link expired',
  uploadRejected: 'the storage refused the file',
  creatingJob: 'Files uploaded. Creating the job…',
  creatingSlow: 'Still creating the job… this usually takes a few seconds.',

  status: { queued: 'Queued', running: 'Processing', succeeded: 'Done', failed: 'Failed', cancelled: 'Cancelled' },
  position: (n) => `Place in line: ${enOrdinal(n)}`,
  positionAhead: (n) => (n <= 1 ? 'Yours is next.' : `${n - 1} ${plural(n - 1, 'job', 'jobs')} ahead of yours.`),
  positionHint: 'Your place updates by itself. You can leave the app: the job carries on.',
  queuedFor: (t) => `Waiting for ${t}`,
  runningBig: 'Creating your result…',
  estimateWait: (d) => `Estimated wait: ${d} (only an estimate; it may vary).`,
  estimateLeft: (d) => `Estimated time left: ${d} (it may vary).`,
  estimateOver: 'Taking longer than usual; the result will appear here when it is ready.',
  roughly: (minutes) => (minutes < 1 ? 'under a minute' : `about ${minutes} min`),
  runningFor: (t) => `Elapsed: ${t}`,
  runningHint: 'You can leave the app: the result will be here when you come back.',
  cancelJob: 'Cancel job',
  confirmTitle: 'Cancel this job?',
  confirmQueued: (n) => `It leaves the queue and your ${enCredits(n)} ${plural(n, 'is', 'are')} refunded.`,
  confirmRunning: (n) => `It is already processing: the ${enCredits(n)} will NOT be refunded.`,
  confirmYes: 'Yes, cancel',
  confirmNo: 'Go back',
  resultHeading: 'Result',
  before: 'Before',
  after: 'After',
  compareLabel: 'Compare before and after',
  download: 'Download result',
  downloadN: (n) => `Download result ${n}`,
  newJob: 'Start another',
  createdAgo: (t) => `created ${t}`,
  costCharged: (n) => `${enCredits(n)} charged`,
  costRefunded: (n) => `${enCredits(n)} refunded`,
  costNotCharged: 'not charged',
  technicalDetails: 'Technical details',
  jobError: {
    INSUFFICIENT_CREDITS: 'Your balance was too low when the upload finished.',
    USER_BUSY: 'You already had another job in progress when the upload finished.',
    INVALID_INPUT: 'The file is not what it claims to be: its content does not match its type (for example, a text file renamed to .png).',
    PROVIDER_ERROR: 'The AI service could not process this job.',
    PROVIDER_TIMEOUT: 'The AI service took too long to answer.',
    QUEUE_TIMEOUT: 'The queue took too long and the job expired before it started.',
    CANCELLED_BY_USER: 'You cancelled this job.',
    HEALED: 'This job stopped responding and was closed automatically.',
    INTERNAL: 'Something went wrong on our side.',
  },
  notCharged: 'Nothing was charged.',
  refunded: (n) => `Your ${enCredits(n)} ${plural(n, 'was', 'were')} refunded.`,
  notRefunded: (n) => `The ${enCredits(n)} ${plural(n, 'was', 'were')} not refunded: the job was already processing.`,
  notRefundedFailed: (n) => `The ${enCredits(n)} ${plural(n, 'was', 'were')} not refunded.`,

  activeTitle: 'You already have a job in progress',
  activeTitleAfter: { cancelled: 'Queue freed', running: 'Your job has already started', ended: 'Your job has ended' },
  activeBody: 'Only one job at a time. This is your current job:',
  activeRunningHint: 'It is already processing. Wait for it to finish or cancel it (no refund).',
  activeQueuedHint: '“Free the queue” cancels your queued jobs and refunds their credits.',
  viewJob: 'View job',
  releaseQueue: 'Free the queue',
  released: (n) =>
    n === 0 ? 'You had nothing in the queue.' : `Queue freed: ${n} ${plural(n, 'job', 'jobs')} cancelled, credits refunded.`,
  retry: 'Start it now',
  close: 'Close',

  historyHeading: 'History',
  historyEmpty: 'No jobs yet.',
  historyMore: 'Load more',
  historyView: 'View',
  historyViewLabel: (tool, date) => `View ${tool} job from ${date}`,
  loading: 'Loading…',
  refresh: 'Refresh',

  ledgerHeading: 'Credit statement',
  ledgerEmpty: 'No credit movements yet.',
  ledgerReason: {
    signup: 'Welcome bonus',
    operator: 'Credits added by our team',
    adjustment: 'Balance adjustment',
    debit: 'Job charged',
    refund: 'Credits refunded',
  },
  ledgerDelta: (delta) => `${delta > 0 ? '+' : '−'}${enCredits(Math.abs(delta))}`,
  ledgerBalance: (n) => `balance ${enCredits(n)}`,

  updateAvailable: 'A new version is available',
  updateNow: 'Update',
  pushOffer: 'Notify me when it’s ready',
  pushOfferDismiss: 'Not now',
  pushOn: 'Done: you’ll get a notification when it’s ready.',
  pushFailed: 'Notifications could not be turned on on this device. Follow along here.',
  uploadBytes: (loaded, total) => `${loaded} of ${total}`,
  uploadSpeed: (rate) => `${rate}/s`,
  uploadTimeLeft: (seconds) =>
    seconds < 60 ? `about ${Math.max(1, Math.round(seconds))} s left` : `about ${Math.round(seconds / 60)} min left`,
  uploadResumed: (stored) => `Picking up where it stopped: ${stored} were already saved.`,
};

const DICTS: Record<Lang, Dict> = { 'pt-BR': pt, en };

let current: Lang = readLang();

function readLang(): Lang {
  try {
    return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'pt-BR';
  } catch {
    return 'pt-BR';
  }
}

export const lang = () => current;
export const t = (): Dict => DICTS[current];

export function setLang(next: Lang) {
  current = next;
  try {
    localStorage.setItem(LANG_KEY, next);
  } catch {
    /* private mode: not remembered */
  }
  document.documentElement.lang = next;
}

/** "2:05", "1:02:05". */
export function formatDuration(ms: number) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** "há 3 minutos" / "3 minutes ago". */
export function formatAgo(iso: string, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(current, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 45) return rtf.format(0, 'second');
  if (abs < 45 * 60) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 22 * 3600) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

export function formatDate(iso: string) {
  return new Intl.DateTimeFormat(current, { dateStyle: 'short', timeStyle: 'short' }).format(new Date(iso));
}

export function formatBytes(bytes: number) {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${new Intl.NumberFormat(current, { maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value)} ${units[unit]}`;
}
