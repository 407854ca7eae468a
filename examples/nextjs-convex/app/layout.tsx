import type { Metadata } from "next";
import { withAuth } from "@workos-inc/authkit-nextjs";
import { Impersonation } from "@workos-inc/authkit-nextjs/components";
import { ConvexClientProvider } from "@/components/ConvexClientProvider";
import "./globals.css";

export const metadata: Metadata = {
  title: "Convex + Next.js + WorkOS",
  description: "Convex's AuthKit guide app on Gatehouse",
};

export default async function RootLayout({ children }: Readonly<{ children: React.ReactNode }>) {
  const expectAuth = !!(await withAuth()).user;
  return (
    <html lang="en">
      <body>
        <ConvexClientProvider expectAuth={expectAuth}>
          {children}
          {/* AuthKit's banner while an operator is signed in as the user (impersonation). */}
          <Impersonation />
        </ConvexClientProvider>
      </body>
    </html>
  );
}
