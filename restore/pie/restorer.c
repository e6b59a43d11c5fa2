/* placeholder */
__attribute__((section(".text.entry"), used, visibility("default")))
void restorer_entry(void)
{
	for (;;)
		;
}
