#!/usr/bin/env bash
# Installs the system programs Pressroom drives, when any is missing.
# Debian/Ubuntu only. Without root it prints the exact apt-get line to run.
# Usage: scripts/system-deps.sh [--with-browser] [--with-office]
# More OCR languages: PRESSROOM_OCR_LANGUAGES="chi_sim jpn rus" (Tesseract codes;
# each becomes the Debian package tesseract-ocr-<code with - for _>).
set -euo pipefail

PACKAGES=(qpdf ghostscript fonts-urw-base35 poppler-utils img2pdf tesseract-ocr
          tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra
          tesseract-ocr-spa tesseract-ocr-ita tesseract-ocr-por
          pngquant unpaper)
for lang in ${PRESSROOM_OCR_LANGUAGES:-}; do
    if [[ ! "$lang" =~ ^[A-Za-z][A-Za-z0-9_]{1,30}$ ]]; then
        echo "PRESSROOM_OCR_LANGUAGES: '$lang' is not a Tesseract language code" >&2
        exit 1
    fi
    PACKAGES+=("tesseract-ocr-$(echo "$lang" | tr '[:upper:]_' '[:lower:]-')")
done
for arg in "$@"; do
    case "$arg" in
        --with-browser) PACKAGES+=(chromium) ;;
        # office documents to PDF (POST /api/convert, format=pdf); about 400 MB
        --with-office) PACKAGES+=(libreoffice-writer-nogui libreoffice-calc-nogui
                                  libreoffice-impress-nogui) ;;
    esac
done

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if ! command -v apt-get >/dev/null; then
    echo "Pressroom needs these programs: ${missing[*]}; install them with your package manager." >&2
    exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO=sudo
    else
        echo "Pressroom needs system packages that are not installed. Run, as root:" >&2
        echo "  sudo sh -c '$line'" >&2
        exit 1
    fi
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
${SUDO:-} apt-get update -qq
${SUDO:-} apt-get install -y -qq --no-install-recommends "${missing[@]}"
