#!/bin/sh
# gen.sh regenerates ccswitch's default prompts: 8 kHz, 16-bit, mono PCM WAVs in en/ and fr/,
# plus a loopable hold-music WAV. Needs Debian's espeak-ng and sox:
#   apt-get install -y espeak-ng sox
# Run from anywhere: sh configs/prompts/gen.sh
# Output is byte-for-byte reproducible for a given espeak-ng/sox version (sox -D: no dither).
set -eu
cd "$(dirname "$0")"
command -v espeak-ng >/dev/null || { echo "gen.sh: espeak-ng missing (apt-get install -y espeak-ng)" >&2; exit 1; }
command -v sox >/dev/null || { echo "gen.sh: sox missing (apt-get install -y sox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say LANG VOICE NAME TEXT: speak TEXT, convert to 8 kHz 16-bit mono, trim, normalise to -3 dBFS.
say() {
	mkdir -p "$1"
	espeak-ng -v "$2" -s 150 -w "$tmp/raw.wav" "$4"
	sox -D "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1/$3.wav" \
		silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0.1 0.2 norm -3
}

say en en-us welcome "Welcome to ccswitch."
say en en-us menu "For sales, press 1. For support, press 2. Pour le français, tapez 9."
say en en-us closed "We are closed now. Please call again during our opening hours."
say en en-us holiday "We are closed today for a holiday. Please call again on a working day."
say en en-us please-hold "Please hold, an agent will be with you shortly."
say en en-us you-are-caller "You are caller number"
say en en-us in-queue "in the queue."
say en en-us invalid-choice "Sorry, that is not a valid choice."
say en en-us goodbye "Thank you for calling. Goodbye."
for d in 0 1 2 3 4 5 6 7 8 9; do say en en-us "digit-$d" "$d"; done
say en en-us expected-wait "Your expected wait is about"
say en en-us minutes "minutes."
say en en-us less-than-a-minute "Your expected wait is less than a minute."
say en en-us callback-offer "To be called back without losing your place in the queue, press 1."
say en en-us callback-confirm "Thank you. We will call you back at the number you called from. You keep your place in the queue. Goodbye."
say en en-us callback-number "Please enter the number to call you back on, followed by the hash key."
say en en-us callback-unavailable "Sorry, we cannot call you back at this number. Please hold."
say en en-us voicemail-offer "To leave a message instead, press 2."
say en en-us voicemail-beep "Please leave your message after the tone, and press hash when you are done."

say fr fr welcome "Bienvenue chez ccswitch."
say fr fr menu "Pour le service commercial, tapez 1. Pour le support, tapez 2. For English, press 9."
say fr fr closed "Nous sommes fermés. Merci de rappeler pendant nos heures d'ouverture."
say fr fr holiday "Nous sommes fermés aujourd'hui, jour férié. Merci de rappeler un jour ouvré."
say fr fr please-hold "Merci de patienter, un conseiller va vous répondre."
say fr fr you-are-caller "Vous êtes l'appelant numéro"
say fr fr in-queue "dans la file d'attente."
say fr fr invalid-choice "Désolé, ce choix n'est pas valide."
say fr fr goodbye "Merci de votre appel. Au revoir."
for d in 0 1 2 3 4 5 6 7 8 9; do say fr fr "digit-$d" "$d"; done
say fr fr expected-wait "Votre temps d'attente estimé est d'environ"
say fr fr minutes "minutes."
say fr fr less-than-a-minute "Votre temps d'attente estimé est de moins d'une minute."
say fr fr callback-offer "Pour être rappelé sans perdre votre place dans la file, tapez 1."
say fr fr callback-confirm "Merci. Nous vous rappellerons au numéro depuis lequel vous appelez. Vous gardez votre place dans la file. Au revoir."
say fr fr callback-number "Veuillez saisir le numéro auquel vous rappeler, suivi de la touche dièse."
say fr fr callback-unavailable "Désolé, nous ne pouvons pas vous rappeler à ce numéro. Merci de patienter."
say fr fr voicemail-offer "Pour laisser un message, tapez 2."
say fr fr voicemail-beep "Laissez votre message après le bip, puis tapez dièse."

# Hold music: an 8-second arpeggio of soft plucked notes (C major, A minor), each 0.5 s, with a
# fade at both ends of every note so the file loops without a click.
notes="C4 E4 G4 C5 A3 C4 E4 A4 F3 A3 C4 F4 G3 B3 D4 G4"
i=0
for n in $notes; do
	sox -D -n -r 8000 -c 1 -b 16 -e signed-integer "$tmp/n$i.wav" synth 0.5 pluck "$n" fade q 0.01 0.5 0.15 vol 0.5
	i=$((i + 1))
done
files=""
j=0
while [ "$j" -lt "$i" ]; do files="$files $tmp/n$j.wav"; j=$((j + 1)); done
# shellcheck disable=SC2086
sox -D $files -r 8000 -c 1 -b 16 -e signed-integer hold-music.wav norm -6
echo "gen.sh: wrote $(ls en/*.wav fr/*.wav hold-music.wav | wc -l) files"
