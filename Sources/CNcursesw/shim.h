/* ncursesw for Swift. Macros and globals that Swift cannot import, or that
 * Swift 6 rejects as not concurrency-safe, are wrapped in inline functions. */
#ifndef BPFCP_CURSES_SHIM_H
#define BPFCP_CURSES_SHIM_H

#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>

static inline WINDOW *bpfcp_stdscr(void) { return stdscr; }
static inline int bpfcp_lines(void) { return LINES; }
static inline int bpfcp_cols(void) { return COLS; }
static inline int bpfcp_maxy(WINDOW *w) { int y, x; getmaxyx(w, y, x); (void)x; return y; }
static inline int bpfcp_maxx(WINDOW *w) { int y, x; getmaxyx(w, y, x); (void)y; return x; }
static inline unsigned int bpfcp_a_bold(void) { return A_BOLD; }
static inline unsigned int bpfcp_a_reverse(void) { return A_REVERSE; }
static inline unsigned int bpfcp_a_dim(void) { return A_DIM; }
static inline unsigned int bpfcp_a_underline(void) { return A_UNDERLINE; }
static inline unsigned int bpfcp_color_pair(int n) { return COLOR_PAIR(n); }
static inline int bpfcp_wcwidth(wchar_t c) { return wcwidth(c); }
static inline int bpfcp_keypad_on(void) { return keypad(stdscr, TRUE); }
static inline int bpfcp_setlocale_all(void) { return setlocale(LC_ALL, "") != NULL; }
static inline int bpfcp_key_resize(void) { return KEY_RESIZE; }
static inline int bpfcp_key_f(int n) { return KEY_F(n); }
static inline int bpfcp_addwstr(int y, int x, const wchar_t *s, int n) { return mvaddnwstr(y, x, s, n); }
static inline int bpfcp_attron(unsigned int a) { return attron(a); }
static inline int bpfcp_attroff(unsigned int a) { return attroff(a); }
static inline int bpfcp_attrset(unsigned int a) { return attrset(a); }
/* Makes the next refresh() repaint every cell, as Ctrl-L asks. */
static inline int bpfcp_clear_all(void) { return clearok(curscr, TRUE); }
static inline int bpfcp_key_code_yes(void) { return KEY_CODE_YES; }

#endif
